"""Writing export files into a directory without ever writing outside it.

    from espkit import dns

    paths = dns.write_zone_files(dns.to_octodns(domains), "zones/")   # zones/<zone>.yaml

File names come from zone names, and zone names come from the ESP (a domain's own name) or
from a fleet file: both are data from outside (docs/security.md). So, before the first byte
is written:

- every zone must be a canonical domain name (``espkit.validate.domain_name``): no ``/``,
  ``\\``, ``..``, NUL or other control character, nothing absolute;
- every file to be replaced must be a regular file or absent: a symbolic link (wherever it
  points), a directory or a device in its place refuses the export.

Any failure refuses the whole export (``DnsExportError`` naming the zone or the file) and
nothing is written: one rule for every problem, and never a half-written directory from a
check. Each file is then written to a fresh temporary file in the directory and renamed over
its name, so a symbolic or hard link planted after the check is replaced, never written
through. Where the platform allows (POSIX), every step is relative to one open handle of
the directory, so the directory itself cannot be swapped for another midway.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from collections.abc import Iterator, Mapping
from pathlib import Path

from espkit.dns.names import shown, zone_name
from espkit.errors import DnsExportError

#: the suffix of an octoDNS zone file (YamlProvider reads ``<zone>.yaml``)
ZONE_SUFFIX = ".yaml"

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_BY_HANDLE = bool(_DIRECTORY) and os.open in os.supports_dir_fd \
    and os.stat in os.supports_dir_fd and os.rename in os.supports_dir_fd


def file_names(documents: Mapping[str, str], suffix: str = ZONE_SUFFIX) -> dict[str, str]:
    """file name -> text, each zone checked as a canonical domain name (a zone that is not
    refuses them all: ``DnsExportError`` naming it)."""
    names: dict[str, str] = {}
    for zone, text in documents.items():
        canonical = zone_name(zone, "zone")
        if canonical != zone:  # e.g. upper case: octoDNS looks for the canonical file name
            raise DnsExportError(f"the zone {shown(zone)} cannot be a file name: write it "
                                 f"as {canonical}")
        names[canonical + suffix] = text
    return names


def write_zone_files(documents: Mapping[str, str], directory: str | os.PathLike[str],
                     suffix: str = ZONE_SUFFIX) -> list[Path]:
    """Write each zone's text (``documents``: zone -> text, as ``to_octodns`` gives) to
    ``<directory>/<zone><suffix>``, creating the directory; the paths written, in order.

    Everything is checked before anything is written (see the module docstring): a zone that
    is not a domain name or a file that is not a regular file is a ``DnsExportError`` and the
    directory is left as it was."""
    names = file_names(documents, suffix)
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    with _opened(folder) as handle:
        for name in names:
            _check_target(handle, folder, name)
        for name, text in names.items():
            _write(handle, folder, name, text)
    return [folder / name for name in names]


@contextlib.contextmanager
def _opened(folder: Path) -> Iterator[int | None]:
    """An open handle on ``folder`` where paths can be relative to one, else None."""
    if not _BY_HANDLE:  # pragma: no cover - Windows
        yield None
        return
    handle = os.open(folder, os.O_RDONLY | _DIRECTORY)
    try:
        yield handle
    finally:
        os.close(handle)


def _check_target(handle: int | None, folder: Path, name: str) -> None:
    try:
        if handle is None:  # pragma: no cover - Windows
            info = os.stat(folder / name, follow_symlinks=False)
        else:
            info = os.stat(name, dir_fd=handle, follow_symlinks=False)
    except FileNotFoundError:
        return
    if stat.S_ISLNK(info.st_mode):
        raise DnsExportError(f"{folder / name} is a symbolic link: espkit does not write "
                             "through links; remove it and export again (nothing was written)")
    if not stat.S_ISREG(info.st_mode):
        raise DnsExportError(f"{folder / name} exists and is not a regular file (nothing was "
                             "written)")


def _write(handle: int | None, folder: Path, name: str, text: str) -> None:
    temporary = f".{name}.{secrets.token_hex(6)}.tmp"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | getattr(os, "O_BINARY", 0)
    if handle is None:  # pragma: no cover - Windows
        fd = os.open(folder / temporary, flags, 0o644)
    else:
        fd = os.open(temporary, flags, 0o644, dir_fd=handle)
    try:
        with os.fdopen(fd, "wb") as stream:
            stream.write(text.encode("utf-8"))
        if handle is None:  # pragma: no cover - Windows
            os.replace(folder / temporary, folder / name)
        else:
            os.replace(temporary, name, src_dir_fd=handle, dst_dir_fd=handle)
    except BaseException:
        with contextlib.suppress(OSError):
            if handle is None:  # pragma: no cover - Windows
                os.unlink(folder / temporary)
            else:
                os.unlink(temporary, dir_fd=handle)
        raise


__all__ = ["ZONE_SUFFIX", "file_names", "write_zone_files"]
