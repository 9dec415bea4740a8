"""A compiled dataset as bytes: what ``netintel_update`` stores and processes load.

Layout (``FORMAT``): zlib of a JSON header line, then the arrays' raw bytes
in the header's order. The header records the byte order; a process on the
other endianness swaps. Any change to ``NetIntelData``'s arrays bumps
``FORMAT``; a process that meets a format it does not know compiles the
ranges from the database instead (``protection.netintel.registry``).
"""

import json
import sys
import zlib
from array import array
from typing import Any

from protection.netintel.compiled import NetIntelData, RangeTable

FORMAT = 1


def _arrays(data: NetIntelData) -> list[tuple[str, array]]:
    named: list[tuple[str, array]] = []
    for family in (4, 6):
        for prefix, tables in (("asn", data.asn), ("classes", data.classes)):
            table = tables[family]
            named += [
                (f"{prefix}{family}.starts", table.starts),
                (f"{prefix}{family}.ends", table.ends),
                (f"{prefix}{family}.values", table.values),
            ]
        named.append((f"countries{family}", data.countries_of[family]))
    named += [("as_numbers", data.as_numbers), ("name_offsets", data.name_offsets)]
    return named


def snapshot_dumps(data: NetIntelData) -> bytes:
    """``data`` as compressed bytes (``snapshot_loads`` reads them back)."""
    named = _arrays(data)
    header: dict[str, Any] = {
        "format": FORMAT,
        "byteorder": sys.byteorder,
        "dataset_id": data.dataset_id,
        "loaded_at": data.loaded_at,
        "countries": list(data.countries),
        "arrays": [[name, values.typecode, len(values)] for name, values in named],
        "names": len(data.name_blob),
    }
    parts = [json.dumps(header).encode() + b"\n"]
    parts += [values.tobytes() for _, values in named]
    parts.append(data.name_blob)
    return zlib.compress(b"".join(parts), 6)


def snapshot_loads(blob: bytes) -> NetIntelData:
    """The ``NetIntelData`` in ``blob``; ValueError if it is not a snapshot of ``FORMAT``."""
    try:
        raw = zlib.decompress(blob)
        newline = raw.index(b"\n")
        header = json.loads(raw[:newline])
    except (zlib.error, ValueError) as exc:
        raise ValueError("not a network-origin snapshot") from exc
    if header.get("format") != FORMAT:
        raise ValueError(f"snapshot format {header.get('format')!r}, expected {FORMAT}")
    view = memoryview(raw)
    offset = newline + 1
    arrays: dict[str, array] = {}
    for name, typecode, length in header["arrays"]:
        values = array(typecode)
        size = values.itemsize * length
        values.frombytes(view[offset : offset + size])
        if header["byteorder"] != sys.byteorder:
            values.byteswap()
        arrays[name] = values
        offset += size
    data = NetIntelData(
        dataset_id=int(header["dataset_id"]),
        loaded_at=float(header["loaded_at"]),
        countries=tuple(header["countries"]),
        as_numbers=arrays["as_numbers"],
        name_offsets=arrays["name_offsets"],
        name_blob=bytes(view[offset : offset + header["names"]]),
    )
    for family in (4, 6):
        for prefix, tables in (("asn", data.asn), ("classes", data.classes)):
            tables[family] = RangeTable(
                arrays[f"{prefix}{family}.starts"],
                arrays[f"{prefix}{family}.ends"],
                arrays[f"{prefix}{family}.values"],
            )
        data.countries_of[family] = arrays[f"countries{family}"]
    return data
