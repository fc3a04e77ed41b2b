"""Domain names are IDNA 2008 (UTS 46, non-transitional): every name sent is what was typed,
apart from case, or it is refused, saying what it would have become.

Python's own ``idna`` codec is IDNA 2003: it turned ``faß.de`` into ``fass.de``, dropped
zero-width and soft-hyphen characters (``delete("x\\u200b.com")`` deleted ``x.com``) and read
compatibility dots as dots. Properties over generated text, then one regression per case.
"""

from __future__ import annotations

import idna
import pytest
from hypothesis import event, example, given, settings
from hypothesis import strategies as st

from espkit import NotFound, ValidationError
from espkit.testing import SandboxFactory, emulator
from espkit.validate import MAX_LABEL, MAX_NAME, domain_name

#: characters that IDNA 2003 or UTS 46 mapping would drop or replace, so that the name sent
#: would look like, or be, another one
CONFUSABLES = (
    "\u200b",  # zero-width space
    "\u200c", "\u200d",  # zero-width non-joiner and joiner
    "\u2060", "\ufeff",  # word joiner, BOM
    "\u00ad",  # soft hyphen
    "\u034f",  # combining grapheme joiner
    "\ufe0f", "\U000e0100",  # variation selectors
    "\u180e",  # Mongolian vowel separator
    "\u2024", "\u3002", "\uff0e", "\uff61", "\ufe52",  # dots: leader, ideographic, full-width
    "\u0589", "\u06d4", "\u0964", "\u0701",  # full stops of Armenian, Arabic, Devanagari, Syriac
    "\uff41", "\uff25",  # full-width a, E
    "\U0001d41a", "\U0001d5ba",  # mathematical a
    "\u212a", "\u212b", "\u2126",  # Kelvin, Angstrom and Ohm signs
    "\u2160", "\u217b",  # Roman numerals
    "\ufb01", "\u01c6",  # ligatures fi, dž
    "\u24d0", "\u00aa", "\u00b2", "\u1d2c",  # circled a, ordinal a, superscript 2, modifier A
    "\u0345",  # combining ypogegrammeni (folds to iota)
    "\u1c80",  # Cyrillic rounded ve (folds to ve)
)

LETTERS = "abcxyzABCXYZ0189-"
UNICODE_LETTERS = "üÜßẞéÉяЯ中ς\u03a3İ\u13a0\u0131øæ"  # Σ, Cherokee A, dotless i



def names(alphabet: str) -> st.SearchStrategy[str]:
    label = st.text(st.sampled_from(alphabet), min_size=1, max_size=12)
    return st.builds(lambda parts, dot: ".".join(parts) + dot,
                     st.lists(label, min_size=1, max_size=4), st.sampled_from(["", "."]))


name_like = names(LETTERS + UNICODE_LETTERS)
everything = st.one_of(
    st.text(max_size=40),
    name_like,
    names(LETTERS),
    # names with one arbitrary character put in somewhere: surrogates and controls included
    st.builds(lambda n, c, i: n[:i] + c + n[i:],
              name_like, st.characters(codec=None, exclude_categories=()),
              st.integers(0, 40)),
    st.builds(lambda n, c, i: n[:i] + c + n[i:],
              name_like, st.sampled_from(CONFUSABLES), st.integers(0, 40)),
)


def lower_each(text: str) -> str:
    """Lower case character by character (``str.lower`` turns a final sigma into ς, which
    UTS 46 does not)."""
    return "".join(c.lower() for c in text)


def decoded(name: str) -> str:
    return ".".join(idna.ulabel(label) if label.startswith("xn--") else label
                    for label in name.split("."))


@settings(max_examples=1200, deadline=None)
@given(everything)
@example("faß.de")
@example("FAẞ.DE")
@example("ΟΔΟΣ.gr")
@example("\u13a0\u13a1.com")
@example("ab--cd.example.com")
def test_a_name_is_refused_or_is_what_was_typed_in_idna_2008(typed: str) -> None:
    try:
        name = domain_name(typed)
    except ValidationError as exc:
        refused: ValidationError | None = exc
    else:
        refused = None
    if refused is not None:
        assert refused.field == "domain"
        assert refused.value == typed
        event("refused")
        return
    event("accepted, non-ASCII" if not typed.isascii() else "accepted, ASCII")
    assert name.isascii()
    assert name == name.lower()
    assert not name.endswith(".")
    assert len(name) <= MAX_NAME
    assert all(0 < len(label) <= MAX_LABEL for label in name.split("."))
    # idempotent, and the A-labels decode to U-labels that re-encode to themselves
    assert domain_name(name) == name
    unicode_name = decoded(name)
    for label in unicode_name.split("."):
        if not label.isascii():
            assert idna.alabel(label).decode() in name.split(".")
    # nothing dropped, added or replaced: only case differs from what was typed
    assert lower_each(unicode_name) == lower_each(typed.removesuffix("."))


@settings(max_examples=400, deadline=None)
@given(
    st.sampled_from(["example.com", "mail.acme.example", "xn--bcher-kva.de", "bücher.de",
                     "a.b.c.d.e.example"]),
    st.sampled_from(CONFUSABLES),
    st.integers(0, 30),
)
def test_a_confusable_anywhere_is_refused(base: str, char: str, position: int) -> None:
    typed = base[:position] + char + base[position:]
    with pytest.raises(ValidationError) as info:
        domain_name(typed)
    assert info.value.value == typed


# -- regressions: one per case IDNA 2003 got wrong ---------------------------------------


def test_eszett_is_kept_not_turned_into_ss() -> None:
    assert domain_name("faß.de") == "xn--fa-hia.de"
    assert domain_name("fass.de") == "fass.de"  # a different domain, still fine as typed
    assert domain_name("xn--fa-hia.de") == "xn--fa-hia.de"
    assert domain_name("ς.gr") == "xn--3xa.gr"  # final sigma kept (non-transitional)


@pytest.mark.parametrize(("typed", "becomes"), [
    ("x\u200b.com", "'x.com'"),  # zero-width space
    ("x\u00ad.com", "'x.com'"),  # soft hyphen
    ("x\u2060.com", "'x.com'"),  # word joiner
    ("\ufeffexample.com", "'example.com'"),
    ("example\u3002com", "'example.com'"),  # ideographic full stop
    ("example\uff0ecom", "'example.com'"),  # full-width full stop
    ("example\uff61com", "'example.com'"),  # half-width ideographic full stop
    ("\uff45xample.com", "'example.com'"),  # full-width e
    ("\U0001d41axample.com", "'axample.com'"),  # mathematical bold a
    ("\u212aey.com", "'key.com'"),  # Kelvin sign
    ("\ufb01le.com", "'file.com'"),  # ligature
    ("\u2163.com", "'iv.com'"),  # Roman numeral four
    ("bu\u0308cher.de", "('xn--bcher-kva.de')"),  # decomposed ü: not NFC
    ("b\u00fccher\u3002de", "('xn--bcher-kva.de')"),
])
def test_a_name_the_mapping_would_change_is_refused_saying_what_it_would_become(
    typed: str, becomes: str
) -> None:
    with pytest.raises(ValidationError, match="would become") as info:
        domain_name(typed)
    assert becomes in str(info.value)
    assert info.value.value == typed


@pytest.mark.parametrize("typed", [
    "a\u2024b.com",  # one dot leader: IDNA 2003 read it as a dot
    "a\u200db.com", "a\u200cb.com",  # joiners outside the scripts that need them
    "example\u0589com", "example\u06d4com", "example\u0964com",  # other scripts' full stops
    "xn--zz.com",  # not punycode
    "xn--a.com",  # punycode of a control character
    "xn--ls8h.la",  # an emoji, not valid IDNA 2008
    "xn---bbk.com",  # a non-canonical spelling of another A-label
    "xn--.com", "xn--abc-.com",
    "\u0661.com",  # a lone Arabic-Indic digit breaks the bidi rule
    "_dmarc.example.com",  # underscores were never accepted in domain names
    "exa_mple.bücher.de",
])
def test_invalid_idna_2008_names_are_refused(typed: str) -> None:
    with pytest.raises(ValidationError) as info:
        domain_name(typed)
    assert info.value.value == typed


def test_accepted_forms_still_work() -> None:
    assert domain_name("Mail.Example.COM.") == "mail.example.com"
    assert domain_name("BÜCHER.de") == "xn--bcher-kva.de"
    assert domain_name("XN--BCHER-KVA.DE") == "xn--bcher-kva.de"
    assert domain_name("пример.рф") == "xn--e1afmkfd.xn--p1ai"
    assert domain_name("ab--cd.example.com") == "ab--cd.example.com"  # a valid host name
    assert domain_name("İstanbul.com.tr") == domain_name("i\u0307stanbul.com.tr")


# -- lengths are measured on the ASCII form sent -------------------------------------------

#: 56 characters whose A-label is 63 long, and 57 whose A-label is 64
LABEL_63 = "ü" + "a" * 55
LABEL_64 = "ü" + "a" * 56


def test_label_length_is_measured_on_the_a_label() -> None:
    assert len(LABEL_63) == 56
    assert len(domain_name(LABEL_63 + ".com").split(".")[0]) == 63
    with pytest.raises(ValidationError, match="longer than 63 characters as sent"):
        domain_name(LABEL_64 + ".com")
    assert len(LABEL_64) == 57


def test_name_length_is_measured_on_the_ascii_form() -> None:
    ok = ".".join([LABEL_63, "b" * 63, "c" * 63, "d" * 61])
    too_long = ".".join([LABEL_63, "b" * 63, "c" * 63, "d" * 62])
    assert len(too_long) == 247  # short enough in Unicode
    assert len(domain_name(ok)) == 253
    assert domain_name(ok + ".") == domain_name(ok)
    with pytest.raises(ValidationError, match="longer than 253 characters as sent"):
        domain_name(too_long)


def test_very_long_input_is_refused_before_any_idna_work() -> None:
    with pytest.raises(ValidationError, match="longer than 253"):
        domain_name("ü" * 100_000 + ".com")


# -- what reaches the ESP ------------------------------------------------------------------


def test_deleting_a_name_with_a_zero_width_space_sends_nothing() -> None:
    """IDNA 2003 turned ``x\\u200b.com`` into ``x.com``: the delete hit another domain."""
    factory = SandboxFactory()
    try:
        acct = factory()
        acct.domains.create("x.example")
        exchanges = len(emulator(acct).history)
        with pytest.raises(ValidationError, match=r"would become 'x\.example'"):
            acct.domains.delete("x\u200b.example")
        assert len(emulator(acct).history) == exchanges  # not one request
        assert acct.domains.get("x.example").name == "x.example"
        created = acct.domains.create("faß.example")
        assert created.name == "xn--fa-hia.example"
        assert acct.domains.get("faß.example").name == "xn--fa-hia.example"
        with pytest.raises(NotFound):
            acct.domains.get("fass.example")
    finally:
        factory.close()
