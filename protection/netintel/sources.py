"""Reading the source files of a dataset, line by line, never crashing on one.

The files a directory may hold (``netintel_update --from DIR``; a download
writes the same names):

- ``ip2asn-v4.tsv``, ``ip2asn-v6.tsv`` (or ``.tsv.gz``): iptoasn's format,
  ``range_start<TAB>range_end<TAB>AS_number<TAB>country_code<TAB>AS_description``.
  AS 0 ("Not routed") rows are address space without an AS: skipped, counted;
- ``hosting.txt``, ``vpn.txt``, ``tor.txt``, ``proxy.txt``: one IP or CIDR
  per line, ``#`` starts a comment;
- ``ip-ranges.json`` (AWS) and ``cloud.json`` (Google Cloud): their published
  ranges, as ``hosting``.

Every file yields ranges and a ``FileReport``: how many entries it gave,
how many lines were skipped and why, and the first malformed line numbers.
A file whose entries are mostly malformed is ``rejected``; the update then
fails and the previous dataset stays.
"""

import gzip
import ipaddress
import json
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

ASN_FILES = ("ip2asn-v4.tsv", "ip2asn-v6.tsv")
CLASS_FILES = {f"{name}.txt": name for name in ("hosting", "vpn", "tor", "proxy")}
CLOUD_FILES = {"ip-ranges.json": "aws", "cloud.json": "google"}
SOURCE_FILES = (*ASN_FILES, *CLASS_FILES, *CLOUD_FILES)
MAX_MALFORMED_SHARE = 0.5  # above this share of malformed entries, a file is rejected
EXAMPLES = 5  # malformed line numbers quoted per file
ASN_MAX = 2**32 - 1
AS_NAME_MAX = 255


@dataclass
class FileReport:
    """What one source file gave."""

    name: str
    entries: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    malformed: int = 0
    malformed_lines: list[int] = field(default_factory=list)
    error: str = ""

    def skip(self, why: str) -> None:
        self.skipped[why] = self.skipped.get(why, 0) + 1

    def bad(self, line: int) -> None:
        self.malformed += 1
        if len(self.malformed_lines) < EXAMPLES:
            self.malformed_lines.append(line)

    @property
    def rejected(self) -> bool:
        if self.error:
            return True
        seen = self.entries + self.malformed
        return bool(seen) and self.malformed / seen > MAX_MALFORMED_SHARE

    def as_dict(self) -> dict[str, Any]:
        report: dict[str, Any] = {"entries": self.entries, "malformed": self.malformed}
        if self.skipped:
            report["skipped"] = dict(sorted(self.skipped.items()))
        if self.malformed_lines:
            report["malformed_lines"] = list(self.malformed_lines)
        if self.error:
            report["error"] = self.error
        return report


@dataclass(frozen=True)
class AsnEntry:
    family: int
    first: int
    last: int
    asn: int
    country: str
    name: str


@dataclass(frozen=True)
class ClassEntry:
    family: int
    first: int
    last: int
    network_class: str
    source: str


def _address(text: str) -> tuple[int, int] | None:
    """``(family, integer)`` of an address, or None."""
    for family, af in ((4, socket.AF_INET), (6, socket.AF_INET6)):
        try:
            return family, int.from_bytes(socket.inet_pton(af, text), "big")
        except OSError:
            continue
    return None


def _network(text: str) -> tuple[int, int, int] | None:
    """``(family, first, last)`` of an IP or CIDR (host bits allowed), or None."""
    try:
        network = ipaddress.ip_network(text, strict=False)
    except ValueError:
        return None
    return network.version, int(network.network_address), int(network.broadcast_address)


def open_text(path: Path) -> IO[str]:
    """Open ``path`` (or ``path.gz`` if only that exists) as UTF-8 text."""
    if not path.exists() and path.with_name(path.name + ".gz").exists():
        return gzip.open(
            path.with_name(path.name + ".gz"), "rt", encoding="utf-8", errors="replace"
        )
    return path.open(encoding="utf-8", errors="replace")


def present(directory: Path, name: str) -> bool:
    return (directory / name).is_file() or (directory / f"{name}.gz").is_file()


def read_ip2asn(lines: IO[str], report: FileReport) -> Iterator[AsnEntry]:
    """Entries of an iptoasn TSV; AS 0 rows are counted as ``not_routed``."""
    for number, line in enumerate(lines, 1):
        line = line.rstrip("\r\n")
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        first = _address(fields[0].strip()) if len(fields) >= 4 else None
        last = _address(fields[1].strip()) if first else None
        asn_text = fields[2].strip() if last else ""
        if (
            first is None
            or last is None
            or first[0] != last[0]
            or first[1] > last[1]
            or not asn_text.isascii()
            or not asn_text.isdigit()
            or int(asn_text) > ASN_MAX
        ):
            report.bad(number)
            continue
        asn = int(asn_text)
        if asn == 0:
            report.skip("not_routed")
            continue
        country = fields[3].strip().upper()
        if len(country) != 2 or not country.isascii() or not country.isalpha():
            country = ""  # "None", "Unknown": no country, still a routed range
        name = fields[4].strip()[:AS_NAME_MAX] if len(fields) > 4 else ""
        report.entries += 1
        yield AsnEntry(first[0], first[1], last[1], asn, country, name)


def read_class_list(lines: IO[str], report: FileReport, network_class: str) -> Iterator[ClassEntry]:
    """Entries of a ``<class>.txt`` list: one IP or CIDR per line, ``#`` comments."""
    for number, line in enumerate(lines, 1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        network = _network(text)
        if network is None:
            report.bad(number)
            continue
        report.entries += 1
        yield ClassEntry(*network, network_class=network_class, source=report.name)


def read_cloud_ranges(lines: IO[str], report: FileReport, provider: str) -> Iterator[ClassEntry]:
    """Prefixes of AWS ``ip-ranges.json`` or Google ``cloud.json``, as ``hosting``."""
    try:
        document = json.load(lines)
    except ValueError:
        report.error = "not valid JSON"
        return
    if provider == "aws":
        items = [
            *((p, "ip_prefix") for p in _list(document, "prefixes")),
            *((p, "ipv6_prefix") for p in _list(document, "ipv6_prefixes")),
        ]
    else:
        items = [
            (p, "ipv4Prefix" if isinstance(p, dict) and "ipv4Prefix" in p else "ipv6Prefix")
            for p in _list(document, "prefixes")
        ]
    if not items:
        report.error = "no prefixes"
        return
    for number, (item, key) in enumerate(items, 1):
        text = item.get(key) if isinstance(item, dict) else None
        network = _network(text) if isinstance(text, str) else None
        if network is None:
            report.bad(number)
            continue
        report.entries += 1
        yield ClassEntry(*network, network_class="hosting", source=provider)


def _list(document: Any, key: str) -> list[Any]:
    value = document.get(key) if isinstance(document, dict) else None
    return value if isinstance(value, list) else []
