"""Compact list cells for the admin, so the lists fit a 1280 px screen.

Each helper shows a short form and keeps the full value in the ``title``
(shown on hover); sorting and searching still use the full column.
"""

import datetime
from typing import Any

from django.utils import timezone
from django.utils.html import format_html

EMPTY = "—"


def truncated(value: Any, length: int = 10) -> str:
    """Return ``value`` cut to ``length`` characters with the full value on hover (title)."""
    text = "" if value is None else str(value)
    if len(text) <= length:
        return text or EMPTY
    return format_html('<span title="{}">{}…</span>', text, text[: length - 1])


def compact_time(value: datetime.datetime | None) -> str:
    """Return "Nov 28 23:56" (local time) with the full timestamp on hover."""
    if value is None:
        return EMPTY
    local = timezone.localtime(value)
    return format_html(
        '<span title="{}">{}</span>', local.isoformat(timespec="seconds"), f"{local:%b %d %H:%M}"
    )


def key_label(api_key: Any, length: int = 18) -> str:
    """Return an API key's name, cut short, with "name (public id)" on hover."""
    if api_key is None:
        return EMPTY
    name = api_key.name if len(api_key.name) <= length else api_key.name[: length - 1] + "…"
    return format_html('<span title="{} ({})">{}</span>', api_key.name, api_key.public_id, name)
