"""The in-process form of a dataset: sorted integer arrays, one ``bisect`` per lookup.

Per address family, the AS ranges and the class ranges are each a table of
non-overlapping ranges sorted by start, in ``array`` columns (4 bytes per
IPv4 bound, 8 per IPv6 bound: IPv6 is kept per /64, its upper 64 bits).
The range containing an address is the last one starting at or before it,
if it ends at or after it. AS organisations are one UTF-8 ``bytes`` blob
with offsets, so half a million ranges and their names cost a few
megabytes per process, not a Python object each.

Overlaps are resolved while compiling: in the AS data the first range wins
(iptoasn's ranges never overlap); among class lists the class listed first
in ``NETWORK_CLASSES`` wins (a Tor exit in a hosting network is ``tor``).
"""

import heapq
from array import array
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass, field

from protection.netintel.origin import (
    NETWORK_CLASSES,
    UNKNOWN_ORIGIN,
    NetworkOrigin,
    ip_key,
)

# Array type codes: 32-bit for IPv4 bounds and indexes, 64-bit for IPv6 /64s.
_BOUND = {4: "I", 6: "Q"}


@dataclass
class RangeTable:
    """Sorted, non-overlapping ``[start, end]`` ranges with one value each."""

    starts: array
    ends: array
    values: array

    @classmethod
    def build(
        cls, family: int, value_code: str, rows: Iterable[tuple[int, int, int]]
    ) -> "RangeTable":
        """Compile ``(start, end, value)`` rows; a range overlapping a kept one is dropped."""
        table = cls(array(_BOUND[family]), array(_BOUND[family]), array(value_code))
        for start, end, value in disjoint(rows):
            table.starts.append(start)
            table.ends.append(end)
            table.values.append(value)
        return table

    def find(self, position: int) -> int:
        """Index of the range containing ``position``, or -1."""
        index = bisect_right(self.starts, position) - 1
        if index >= 0 and self.ends[index] >= position:
            return index
        return -1

    def __len__(self) -> int:
        return len(self.starts)

    def nbytes(self) -> int:
        return sum(a.itemsize * len(a) for a in (self.starts, self.ends, self.values))


def disjoint(rows: Iterable[tuple[int, ...]]) -> Iterable[tuple[int, ...]]:
    """``rows`` (``(start, end, ...)``) sorted, without those that overlap a kept one."""
    last_end = -1
    for row in sorted(rows):
        start, end = row[0], row[1]
        if start <= last_end or end < start:
            continue
        last_end = end
        yield row


def merge_by_priority(rows: Iterable[tuple[int, int, int]]) -> list[tuple[int, int, int]]:
    """Flatten possibly overlapping ``(start, end, code)`` ranges into disjoint ones.

    Where ranges overlap, the lowest ``code`` (the first class of
    ``NETWORK_CLASSES``) wins; adjacent pieces of one code are joined.
    """
    ranges = sorted(rows)
    if not ranges:
        return []
    points = sorted({start for start, _, _ in ranges} | {end + 1 for _, end, _ in ranges})
    merged: list[tuple[int, int, int]] = []
    active: list[tuple[int, int]] = []  # heap of (code, end)
    next_range = 0
    for point, following in zip(points, points[1:], strict=False):
        while next_range < len(ranges) and ranges[next_range][0] <= point:
            start, end, code = ranges[next_range]
            heapq.heappush(active, (code, end))
            next_range += 1
        while active and active[0][1] < point:
            heapq.heappop(active)
        if not active:
            continue
        code = active[0][0]
        if merged and merged[-1][2] == code and merged[-1][1] == point - 1:
            merged[-1] = (merged[-1][0], following - 1, code)
        else:
            merged.append((point, following - 1, code))
    return merged


@dataclass
class NetIntelData:
    """One dataset, compiled; ``classify`` is the hot path."""

    dataset_id: int = 0
    loaded_at: float = 0.0  # wall clock (epoch seconds) of the update that made it
    asn: dict[int, RangeTable] = field(default_factory=dict)  # family -> AS index per range
    countries_of: dict[int, array] = field(default_factory=dict)  # family -> country index
    classes: dict[int, RangeTable] = field(default_factory=dict)  # family -> class code
    as_numbers: array = field(default_factory=lambda: array("I"))
    name_blob: bytes = b""
    name_offsets: array = field(default_factory=lambda: array("I", [0]))
    countries: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return self.dataset_id == 0

    def as_name(self, as_index: int) -> str:
        start, end = self.name_offsets[as_index], self.name_offsets[as_index + 1]
        return self.name_blob[start:end].decode("utf-8", "replace")

    def classify(self, ip: str) -> NetworkOrigin:
        """The origin of ``ip`` in this dataset (unknown if ``ip`` is not an address)."""
        key = ip_key(ip)
        if key is None:
            return UNKNOWN_ORIGIN
        family, position = key
        asn, org, country, network_class = None, "", "", ""
        table = self.asn.get(family)
        if table is not None:
            index = table.find(position)
            if index >= 0:
                as_index = table.values[index]
                asn = self.as_numbers[as_index]
                org = self.as_name(as_index)
                country = self.countries[self.countries_of[family][index]]
        classes = self.classes.get(family)
        if classes is not None:
            index = classes.find(position)
            if index >= 0:
                network_class = NETWORK_CLASSES[classes.values[index]]
        return NetworkOrigin(asn=asn, as_org=org, country=country, network_class=network_class)

    def nbytes(self) -> int:
        """Memory held by the arrays and names (what a process pays for the dataset)."""
        tables = [*self.asn.values(), *self.classes.values()]
        return (
            sum(table.nbytes() for table in tables)
            + sum(a.itemsize * len(a) for a in self.countries_of.values())
            + self.as_numbers.itemsize * len(self.as_numbers)
            + len(self.name_blob)
            + self.name_offsets.itemsize * len(self.name_offsets)
        )


def position(family: int, address: int) -> int:
    """The table position of an address: itself for IPv4, its /64 for IPv6."""
    return address if family == 4 else address >> 64


def compile_dataset(
    *,
    dataset_id: int,
    loaded_at: float,
    asn_rows: Iterable[tuple[int, int, int, int, str]],
    class_rows: Iterable[tuple[int, int, int, str]],
    names: Iterable[tuple[int, str]],
) -> NetIntelData:
    """Compile rows into a ``NetIntelData``.

    ``asn_rows``: ``(family, first, last, asn, country)`` with full addresses
    as integers; ``class_rows``: ``(family, first, last, class)``;
    ``names``: ``(asn, organisation)``.
    """
    name_of = dict(names)
    as_index: dict[int, int] = {}
    country_index: dict[str, int] = {}
    per_family: dict[int, list[tuple[int, int, int, int]]] = {4: [], 6: []}
    for family, first, last, asn, country in asn_rows:
        per_family[family].append(
            (
                position(family, first),
                position(family, last),
                as_index.setdefault(asn, len(as_index)),
                country_index.setdefault(country, len(country_index)),
            )
        )
    data = NetIntelData(dataset_id=dataset_id, loaded_at=loaded_at)
    for family, rows in per_family.items():
        table = RangeTable(array(_BOUND[family]), array(_BOUND[family]), array("I"))
        countries = array("H")
        for start, end, index, country_code in disjoint(rows):
            table.starts.append(start)
            table.ends.append(end)
            table.values.append(index)
            countries.append(country_code)
        data.asn[family] = table
        data.countries_of[family] = countries
        rows.clear()  # half a million tuples: free them before the next family
    data.countries = tuple(sorted(country_index, key=country_index.__getitem__))
    data.as_numbers = array("I", sorted(as_index, key=as_index.__getitem__))
    blob = bytearray()
    offsets = array("I", [0])
    for asn in data.as_numbers:
        blob += name_of.get(asn, "").encode("utf-8")
        offsets.append(len(blob))
    data.name_blob, data.name_offsets = bytes(blob), offsets
    codes = {name: code for code, name in enumerate(NETWORK_CLASSES)}
    class_ranges: dict[int, list[tuple[int, int, int]]] = {4: [], 6: []}
    for family, first, last, network_class in class_rows:
        code = codes.get(network_class)
        if code is not None:
            class_ranges[family].append((position(family, first), position(family, last), code))
    for family, ranges in class_ranges.items():
        data.classes[family] = RangeTable.build(family, "B", merge_by_priority(ranges))
    return data
