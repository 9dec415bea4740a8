"""Compact list cells for the admin, so the lists fit a 1280 px screen."""

from typing import Any

from django.utils.html import format_html


def truncated(value: Any, length: int = 10) -> str:
    """Return ``value`` cut to ``length`` characters with the full value on hover (title)."""
    text = "" if value is None else str(value)
    if len(text) <= length:
        return text
    return format_html('<span title="{}">{}…</span>', text, text[: length - 1])
