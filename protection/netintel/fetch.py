"""Downloading the source files: the only code in gatehouse that fetches them.

``netintel_fetch`` downloads every ``NETINTEL_SOURCES`` entry (file name ->
URL) into a directory, unpacking gzip answers, so ``netintel_update`` reads
a download exactly like a ``--from`` directory. Nothing on a request path
calls it; ``manage.py netintel_update`` does. Any failed download fails the
whole update (the previous dataset stays): a partial dataset would silently
drop a class.
"""

import gzip
import shutil
import urllib.request
from pathlib import Path
from typing import IO, Protocol
from urllib.parse import urlsplit

from protection.conf import gatehouse_settings
from protection.netintel.sources import SOURCE_FILES

USER_AGENT = "gatehouse netintel_update"
_CHUNK = 1 << 16


class FetchError(Exception):
    """A source could not be downloaded (the message names it)."""


class _Readable(Protocol):
    def read(self, size: int = ..., /) -> bytes: ...


def _copy_capped(source: _Readable, target: IO[bytes], limit: int, name: str) -> None:
    written = 0
    while chunk := source.read(_CHUNK):
        written += len(chunk)
        if written > limit:
            raise FetchError(f"{name}: larger than NETINTEL_DOWNLOAD_MAX_BYTES ({limit} bytes)")
        target.write(chunk)


def netintel_fetch(*, directory: Path) -> list[str]:
    """Download every configured source into ``directory``; return the file names."""
    sources = dict(gatehouse_settings.NETINTEL_SOURCES)
    unknown = sorted(set(sources) - set(SOURCE_FILES))
    if unknown:
        raise FetchError(
            f"NETINTEL_SOURCES names unknown file(s) {', '.join(unknown)}: "
            f"use {', '.join(SOURCE_FILES)}"
        )
    timeout = float(gatehouse_settings.NETINTEL_DOWNLOAD_TIMEOUT)
    limit = int(gatehouse_settings.NETINTEL_DOWNLOAD_MAX_BYTES)
    for name, url in sources.items():
        if urlsplit(url).scheme not in ("https", "http"):
            raise FetchError(f"{name}: {url!r} is not an http(s) URL")
        request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
        packed = directory / f"{name}.download"
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - checked
                with packed.open("wb") as target:
                    _copy_capped(response, target, limit, name)
        except OSError as exc:  # URLError, HTTPError, timeouts are all OSErrors
            raise FetchError(f"{name}: could not download {url}: {exc}") from exc
        with packed.open("rb") as head:
            gzipped = head.read(2) == b"\x1f\x8b"
        if gzipped:
            with gzip.open(packed, "rb") as source, (directory / name).open("wb") as target:
                try:
                    _copy_capped(source, target, limit, name)
                except (OSError, EOFError) as exc:
                    raise FetchError(f"{name}: the download is not valid gzip: {exc}") from exc
            packed.unlink()
        else:
            shutil.move(packed, directory / name)
    return list(sources)
