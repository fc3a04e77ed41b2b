"""Per-run lookups: the name -> id maps an ESP forces on us, read once per run.

Users name pools and domains; several ESPs key them by opaque ids (Mailgun pool ids,
SendGrid domain ids, SES configuration sets). Resolving a name per call costs a request per
item, and on a rate-limited account requests are time: a bulk job of 50,000 items or a fleet
apply would spend most of its budget reading the same listing again and again.

``Lookups`` keeps those maps for the length of a *run*, and only then. A run is a scope the
caller opens (``with acct.batch(size=n): ...``, which the fleet applier and planner and the
verification waiter open for their work); outside one nothing is kept, so an ad-hoc call
always sees the account as it is now. What it guarantees:

* **Read once.** ``read`` loads a table the first time it is asked for inside the run, and
  only once however many threads ask at the same moment (single flight: 50 bulk workers
  missing together make one listing request); later calls get the same value.
* **Kept correct.** Writes that change what a table holds edit it (``edit``, ``remember``,
  ``drop``); an edit made while the table is being loaded is applied to what the load
  returns. A value found stale (a cached id the ESP answers ``NotFound`` about, a name
  missing from the listing) is reported with ``stale``: the table is read again once for
  that key, and the caller tries once more with the fresh value before failing.
* **Never outlives the run.** Scopes nest (the outermost one counts); when it ends every
  table is dropped, in this ``Lookups`` and in the copies made for subaccount scopes
  (``child``: their own keys, the same run).
* **A size hint.** ``batch(size=n)`` says how many items the run will touch, so a provider
  can tell whether reading a whole listing costs less than a lookup per item (``size``).
* **Afresh when it decides a write.** Inside ``fresh()`` a thread reads every table anew
  (and the run keeps what it read): a create's read-back after an ambiguous failure must
  not take a stale "absent" for an answer and send the create again.

Tables are keyed by a name the provider picks (``"pools"``, ``"details:<pool id>"``);
values are whatever the provider stores, changed only through ``edit``. Maps (``remember``,
``recall``, ``drop``) are filled a key at a time and are never loaded whole.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Hashable, Iterator
from typing import Any, Generic, TypeVar

import attrs

from espkit.errors import ValidationError

T = TypeVar("T")
V = TypeVar("V")


@attrs.frozen
class Seen(Generic[T]):
    """A table as ``read`` returned it: its value, the version of the load it came from
    (for ``stale``), and whether this very call loaded it (a fresh value: nothing to
    refresh when it does not hold what the caller wants)."""

    value: T
    version: int
    fresh: bool


class RunScope:
    """The run a provider and its subaccount copies share: how deep its scopes are nested,
    the size hints they gave, and a generation that moves on each time the outermost one
    ends (so every ``Lookups`` of the run drops its tables)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.sizes: list[int | None] = []
        self.generation = 0
        #: per thread: whether it is reading afresh (``Lookups.fresh``)
        self.local = threading.local()

    @property
    def active(self) -> bool:
        return bool(self.sizes)

    @property
    def size(self) -> int | None:
        """The outermost size hint given (an inner one counts only if no outer one gave
        any)."""
        return next((s for s in self.sizes if s is not None), None)

    def enter(self, size: int | None) -> None:
        with self.lock:
            self.sizes.append(size)

    def exit(self) -> None:
        with self.lock:
            self.sizes.pop()
            if not self.sizes:
                self.generation += 1


class _Table:
    def __init__(self) -> None:
        self.value: Any = None
        self.loaded = False
        self.version = 0
        #: single flight: the thread holding it is loading; others wait on it
        self.loading = threading.Lock()
        #: edits made while a load was under way, applied to what it returns
        self.pending: list[Callable[[Any], Any]] | None = None
        #: keys that have already made this table be read again in this run
        self.refreshed: set[Hashable] = set()


class Lookups:
    """One provider instance's tables for the current run (see the module docstring)."""

    def __init__(self, run: RunScope | None = None) -> None:
        self._run = run or RunScope()
        self._lock = threading.Lock()
        self._tables: dict[str, _Table] = {}
        self._generation = self._run.generation

    def child(self) -> Lookups:
        """Lookups for a copy acting in another scope of the account (a subaccount): keys
        of its own, inside the same run."""
        return Lookups(self._run)

    @contextlib.contextmanager
    def scope(self, size: int | None = None) -> Iterator[None]:
        """A run: tables are kept until the outermost scope ends. ``size``: how many items
        the run will touch (None: unknown)."""
        if size is not None and (isinstance(size, bool) or not isinstance(size, int)
                                 or size < 0):
            raise ValidationError("size", size, "must be a whole number of items (>= 0)")
        self._run.enter(size)
        try:
            yield
        finally:
            self._run.exit()

    @property
    def active(self) -> bool:
        """Whether a run is open (tables are kept)."""
        return self._run.active

    @contextlib.contextmanager
    def fresh(self) -> Iterator[None]:
        """In this thread, for the block: every table is loaded anew (and what is loaded
        replaces what the run kept) and maps are not consulted. For reads whose answer
        decides a write, such as a create's read-back after an ambiguous failure: there a
        stale "absent" would re-send the create."""
        before = getattr(self._run.local, "fresh", False)
        self._run.local.fresh = True
        try:
            yield
        finally:
            self._run.local.fresh = before

    @property
    def afresh(self) -> bool:
        """Whether this thread is inside ``fresh``."""
        return bool(getattr(self._run.local, "fresh", False))

    @property
    def size(self) -> int | None:
        """The run's size hint: how many items it will touch, if the caller said."""
        return self._run.size

    def _entry(self, name: str) -> _Table:
        """The table called ``name`` (made empty if new); tables of an ended run are
        dropped first. Called with ``self._lock`` held."""
        if self._generation != self._run.generation:
            self._tables.clear()
            self._generation = self._run.generation
        entry = self._tables.get(name)
        if entry is None:
            entry = self._tables[name] = _Table()
        return entry

    # -- whole tables ----------------------------------------------------------------------

    def read(self, name: str, load: Callable[[], T]) -> Seen[T]:
        """The table ``name``: loaded with ``load()`` once per run (one loader at a time;
        the others wait for its value), every time outside a run. A load that raises keeps
        nothing: the next caller loads again."""
        if not self.active:
            return Seen(load(), 0, True)
        afresh = self.afresh
        with self._lock:
            entry = self._entry(name)
            if entry.loaded and not afresh:
                return Seen(entry.value, entry.version, False)
        with entry.loading:
            with self._lock:
                if entry.loaded and not afresh:
                    return Seen(entry.value, entry.version, False)
                entry.pending = []
            try:
                value = load()
            except BaseException:
                with self._lock:
                    entry.pending = None
                raise
            with self._lock:
                for change in entry.pending or ():
                    value = change(value)
                entry.pending = None
                if self._tables.get(name) is entry:  # not dropped meanwhile
                    entry.value, entry.loaded = value, True
                    entry.version += 1
                return Seen(value, entry.version, True)

    def table(self, name: str, load: Callable[[], T]) -> T:
        """``read(name, load).value``."""
        return self.read(name, load).value

    def stale(self, name: str, seen: Seen[Any], key: Hashable) -> bool:
        """``seen`` (what ``read`` returned) proved wrong about ``key``: a cached id the ESP
        does not know, or a name the cached listing lacks. True: look again (the next
        ``read`` reloads the table, or already has a newer load). False: looking again
        cannot help (no run, the value was fresh, or ``key`` has had its reload in this
        run), so the failure stands."""
        if not self.active or seen.fresh:
            return False
        with self._lock:
            entry = self._entry(name)
            if not entry.loaded or entry.version != seen.version:
                return True  # dropped or reloaded since: the next read is newer
            if key in entry.refreshed:
                return False
            entry.refreshed.add(key)
            entry.loaded = False
            return True

    def edit(self, name: str, change: Callable[[T], T]) -> None:
        """Apply ``change`` to the table, if it is kept (now, or when its load under way
        ends), under the lookups' lock: it returns the new value (it may change a large
        value in place) and must give the same result if the load already saw the write."""
        if not self.active:
            return
        with self._lock:
            entry = self._entry(name)
            if entry.loaded:
                entry.value = change(entry.value)
            elif entry.pending is not None:
                entry.pending.append(change)

    def forget(self, name: str) -> None:
        """Drop the table: the next ``read`` loads it again."""
        if not self.active:
            return
        with self._lock:
            entry = self._entry(name)
            entry.loaded = False
            entry.value = None

    def peek(self, name: str) -> Any:
        """The table's value if it is kept, else None; never loads."""
        if not self.active:
            return None
        with self._lock:
            entry = self._entry(name)
            return entry.value if entry.loaded else None

    # -- maps filled one key at a time -----------------------------------------------------

    def recall(self, name: str, key: Hashable) -> Any:
        """What ``remember`` stored under ``key`` in map ``name`` in this run, or None."""
        if not self.active or self.afresh:
            return None
        with self._lock:
            entry = self._entry(name)
            return entry.value.get(key) if entry.loaded else None

    def remember(self, name: str, key: Hashable, value: Any) -> None:
        """Store ``key`` -> ``value`` in map ``name`` for the rest of the run (nothing
        outside one). Maps change in place: a listing of 50,000 domains fills one."""
        if not self.active:
            return
        with self._lock:
            entry = self._entry(name)
            if not entry.loaded:
                entry.value, entry.loaded = {}, True
            entry.value[key] = value

    def drop(self, name: str, key: Hashable) -> None:
        """Remove ``key`` from map ``name``."""
        if not self.active:
            return
        with self._lock:
            entry = self._entry(name)
            if entry.loaded:
                entry.value.pop(key, None)

    def once(self, name: str, key: Hashable, compute: Callable[[], V]) -> V:
        """``compute()`` once per run for ``key`` (single flight), every time outside one:
        for work whose result holds for the whole run, such as making sure a
        configuration set exists."""
        return self.table(f"{name}\x00{key!r}", compute)


__all__ = ["Lookups", "RunScope", "Seen"]
