"""Purges other apps add to ``purge_expired`` without protection importing them.

An app registers ``(label, purge)`` from its ``AppConfig.ready``; ``purge``
deletes what has expired and returns how many rows it removed.
"""

from collections.abc import Callable

PURGES: dict[str, Callable[[], int]] = {}


def housekeeping_register(label: str, purge: Callable[[], int]) -> None:
    """Have ``purge_expired`` call ``purge`` and report its count under ``label``."""
    PURGES[label] = purge
