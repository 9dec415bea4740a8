"""The audit log (a sink): the ``SecurityEvent`` table, ``event_record`` (the
one way to write it, with bounded writes under a flood) and the signal that
reactions listen to."""

from protection.core.events.models import SecurityEvent
from protection.core.events.record import (
    EventScope,
    denial_writer,
    event_record,
    event_recorded,
    event_scope,
    events_flush,
    events_flush_if_due,
    events_purge_old,
)

__all__ = [
    "EventScope",
    "SecurityEvent",
    "denial_writer",
    "event_record",
    "event_recorded",
    "event_scope",
    "events_flush",
    "events_flush_if_due",
    "events_purge_old",
]
