"""The session row by primary key: for direct callers, refresh, and when the cache cannot say."""

import functools
import uuid
from typing import Any

from django.db import connection

from protection.keys import ApiKey
from protection.sessions.models import AnonymousSession

_META = AnonymousSession._meta


@functools.lru_cache(maxsize=4)
def _select_sql(vendor: str) -> str:
    quote = connection.ops.quote_name
    columns = ", ".join(quote(field.column) for field in _META.concrete_fields)
    return (
        f"SELECT {columns} FROM {quote(_META.db_table)} "
        f"WHERE {quote(_META.pk.column)} = %s AND {quote(_META.get_field('api_key').column)} = %s"
    )


@functools.lru_cache(maxsize=4)
def _converters(vendor: str) -> list[tuple[Any, list]]:
    # What the ORM's compiler applies to each column: the backend's converters,
    # then the field's (SQLite's text datetimes and hex UUIDs, for instance).
    columns = [field.get_col(_META.db_table) for field in _META.concrete_fields]
    return [
        (column, connection.ops.get_db_converters(column) + column.get_db_converters(connection))
        for column in columns
    ]


def _from_db_row(row: tuple) -> AnonymousSession:
    values = []
    for (column, converters), value in zip(_converters(connection.vendor), row, strict=True):
        for convert in converters:
            value = convert(value, column, connection)
        values.append(value)
    return AnonymousSession.from_db(
        connection.alias, [field.attname for field in _META.concrete_fields], values
    )


def session_row(*, session_id: uuid.UUID, api_key: ApiKey) -> AnonymousSession | None:
    """The session ``session_id`` issued under ``api_key`` (a whole, saveable instance), or None.

    One SQL statement instead of ``objects.get()``: this runs on every
    request, and building the ORM query was two thirds of its cost. The row
    belongs to ``api_key`` (the WHERE says so), which the caller has just
    verified: it is attached as is rather than joined and rebuilt.
    """
    params = [_META.pk.get_db_prep_value(session_id, connection), api_key.pk]
    with connection.cursor() as cursor:
        cursor.execute(_select_sql(connection.vendor), params)
        row = cursor.fetchone()
    if row is None:
        return None
    session = _from_db_row(row)
    session.api_key = api_key
    return session
