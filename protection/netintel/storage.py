"""Moving half a million ranges in and out of the database quickly.

On PostgreSQL both directions use psycopg 3's ``COPY`` (one stream, no
statement per row): writing a full iptoasn dataset takes seconds, and a
process reads one back in about a second. Elsewhere (SQLite, for the
quickstart) rows are written with batched ``bulk_create`` and read with a
chunked iterator.
"""

import socket
from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Any, TypeVar

from django.db import connection

from protection.netintel.models import AsnRange, AutonomousSystem, ClassRange
from protection.netintel.sources import AsnEntry, ClassEntry

BATCH = 5000


def _postgres() -> bool:
    return connection.vendor == "postgresql"


def _copy_in(table: str, columns: tuple[str, ...], rows: Iterable[tuple[Any, ...]]) -> None:
    quoted = ", ".join(f'"{name}"' for name in columns)
    with connection.cursor() as cursor:
        raw = cursor.cursor  # psycopg's own cursor under Django's wrapper
        with raw.copy(f'COPY "{table}" ({quoted}) FROM STDIN') as copy:
            for row in rows:
                copy.write_row(row)


def _batches(objects: Iterable[Any]) -> Iterator[list[Any]]:
    iterator = iter(objects)
    while batch := list(islice(iterator, BATCH)):
        yield batch


def _text(family: int, address: int) -> str:
    af = socket.AF_INET if family == 4 else socket.AF_INET6
    return socket.inet_ntop(af, address.to_bytes(4 if family == 4 else 16, "big"))


def asn_ranges_write(dataset_id: int, entries: Iterable[AsnEntry]) -> int:
    """Store ``entries`` under ``dataset_id``; return how many."""
    rows = ((dataset_id, *_bounds(entry), entry.asn, entry.country) for entry in entries)
    columns = ("dataset_id", "first_ip", "last_ip", "asn", "country")
    return _ranges_write(AsnRange, columns, rows)


def class_ranges_write(dataset_id: int, entries: Iterable[ClassEntry]) -> int:
    """Store ``entries`` under ``dataset_id``; return how many."""
    rows = ((dataset_id, *_bounds(entry), entry.network_class, entry.source) for entry in entries)
    columns = ("dataset_id", "first_ip", "last_ip", "network_class", "source")
    return _ranges_write(ClassRange, columns, rows)


def _bounds(entry: AsnEntry | ClassEntry) -> tuple[str, str]:
    return _text(entry.family, entry.first), _text(entry.family, entry.last)


_Range = TypeVar("_Range", AsnRange, ClassRange)


def _ranges_write(
    model: type[_Range],
    columns: tuple[str, ...],
    rows: Iterable[tuple[Any, ...]],
) -> int:
    count = 0

    def counted() -> Iterator[tuple[Any, ...]]:
        nonlocal count
        for row in rows:
            count += 1
            yield row

    if _postgres():
        _copy_in(model._meta.db_table, columns, counted())
    else:
        for batch in _batches(counted()):
            model.objects.bulk_create(
                [model(**dict(zip(columns, row, strict=True))) for row in batch]
            )
    return count


def as_names_write(dataset_id: int, names: dict[int, str]) -> int:
    rows = ((dataset_id, asn, name) for asn, name in sorted(names.items()))
    columns = ("dataset_id", "asn", "name")
    if _postgres():
        _copy_in(AutonomousSystem._meta.db_table, columns, rows)
    else:
        for batch in _batches(rows):
            AutonomousSystem.objects.bulk_create(
                [AutonomousSystem(**dict(zip(columns, row, strict=True))) for row in batch]
            )
    return len(names)


def _address(text: str) -> tuple[int, int]:
    if ":" in text:
        return 6, int.from_bytes(socket.inet_pton(socket.AF_INET6, text), "big")
    return 4, int.from_bytes(socket.inet_pton(socket.AF_INET, text), "big")


def _copy_out(query: str, dataset_id: int) -> Iterator[tuple[str, ...]]:
    with connection.cursor() as cursor:
        with cursor.cursor.copy(query.replace("%s", str(int(dataset_id)))) as copy:
            yield from copy.rows()


def asn_ranges_read(dataset_id: int) -> Iterator[tuple[int, int, int, int, str]]:
    """``(family, first, last, asn, country)`` of a dataset's AS ranges."""
    if _postgres():
        rows: Iterable[tuple[Any, ...]] = _copy_out(
            f'COPY (SELECT host("first_ip"), host("last_ip"), "asn", "country" '
            f'FROM "{AsnRange._meta.db_table}" WHERE "dataset_id" = %s) TO STDOUT',
            dataset_id,
        )
    else:
        rows = (
            AsnRange.objects.filter(dataset_id=dataset_id)
            .values_list("first_ip", "last_ip", "asn", "country")
            .iterator(chunk_size=BATCH)
        )
    for first_text, last_text, asn, country in rows:
        family, first = _address(first_text)
        yield family, first, _address(last_text)[1], int(asn), country or ""


def class_ranges_read(dataset_id: int) -> Iterator[tuple[int, int, int, str]]:
    """``(family, first, last, class)`` of a dataset's class ranges."""
    if _postgres():
        rows: Iterable[tuple[Any, ...]] = _copy_out(
            f'COPY (SELECT host("first_ip"), host("last_ip"), "network_class" '
            f'FROM "{ClassRange._meta.db_table}" WHERE "dataset_id" = %s) TO STDOUT',
            dataset_id,
        )
    else:
        rows = (
            ClassRange.objects.filter(dataset_id=dataset_id)
            .values_list("first_ip", "last_ip", "network_class")
            .iterator(chunk_size=BATCH)
        )
    for first_text, last_text, network_class in rows:
        family, first = _address(first_text)
        yield family, first, _address(last_text)[1], network_class


def as_names_read(dataset_id: int) -> Iterator[tuple[int, str]]:
    rows = AutonomousSystem.objects.filter(dataset_id=dataset_id).values_list("asn", "name")
    for asn, name in rows.iterator(chunk_size=BATCH):
        yield int(asn), name
