"""Reading fleet files: ``load`` a path, ``loads`` YAML text.

Both check, before they return, where the file's connections may send a key
(``espkit.fleet.trust``): a file is data, so what it may reach beyond its providers' own
hosts, variables, keyring entries and directory is the caller's ``trust`` (default:
``Trust.from_env()``).

The checker (``espkit.fleet.loader``) is imported on first use: it needs PyYAML and
jsonschema from ``espkit[fleet]``, and this module names that extra when they are missing.
"""

from __future__ import annotations

from pathlib import Path

from espkit.errors import ConfigError
from espkit.fleet.model import Fleet
from espkit.fleet.trust import Trust


def _check_extra() -> None:
    try:
        import jsonschema  # noqa: F401
        import yaml  # noqa: F401
    except ImportError as exc:
        raise ConfigError(
            f"reading fleet files needs {exc.name}: pip install -e '.[fleet]'"
        ) from None


def load(path: str | Path, *, trust: Trust | None = None) -> Fleet:
    """Read and check a fleet file (YAML; customers may come from a CSV it names).

    A file that cannot be read is a ``ConfigError``; an invalid one a ``FleetFileError``
    listing every problem with its line, as is a connection that would send a key where
    ``trust`` (default: ``Trust.from_env()``) does not allow."""
    file = Path(path)
    _check_extra()
    from espkit.fleet.customers import read_bounded
    from espkit.fleet.reader import MAX_FLEET_CHARS

    # a regular file of bounded size: `espkit plan /dev/zero` (or a FIFO) must not hang
    data = read_bounded(file, 4 * MAX_FLEET_CHARS, "fleet file")  # UTF-8: <= 4 bytes a char
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"fleet file {str(file)!r} is not UTF-8 text") from None
    return loads(text, source=str(file), base_dir=file.parent, trust=trust)


def loads(text: str, *, source: str = "<string>", base_dir: str | Path | None = None,
          trust: Trust | None = None) -> Fleet:
    """Like ``load`` for YAML text; ``base_dir`` resolves relative paths (CSV customers, the
    sandbox's ``path``, which must stay inside it); default: the current directory."""
    _check_extra()
    from espkit.fleet import loader as fleet_loader  # PyYAML and jsonschema

    trust = trust if trust is not None else Trust.from_env()
    fleet = fleet_loader.load_text(
        text, source, Path(base_dir) if base_dir is not None else Path(), trust.paths
    )
    # before anyone can connect: no key is read, no request sent, until this passes
    trust.check(fleet)
    return fleet


__all__ = ["load", "loads"]
