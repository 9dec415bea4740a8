"""The audit log (a sink): the ``SecurityEvent`` table, ``event_record`` (the
one way to write it, with bounded writes under a flood), ``refuse`` (the one
way to record a refusal and get the error to raise), the declared event kinds
and reasons, and the signal that reactions listen to."""

from protection.core.events.kinds import (
    EVENT_KINDS,
    EVENT_REASONS,
    EventKindSpec,
    event_kind_declared,
    event_kinds_register,
    event_reason_declared,
    event_reasons_register,
)
from protection.core.events.models import SecurityEvent
from protection.core.events.record import (
    EventScope,
    denial_writer,
    event_record,
    event_recorded,
    event_scope,
    event_scope_current,
    event_scope_device,
    event_scope_device_subject,
    event_scope_network,
    event_scope_risk,
    events_flush,
    events_flush_if_due,
    events_purge_old,
)
from protection.core.events.refuse import Refusal, refuse, refuse_with

__all__ = [
    "EVENT_KINDS",
    "EVENT_REASONS",
    "EventKindSpec",
    "Refusal",
    "event_kind_declared",
    "event_kinds_register",
    "event_reason_declared",
    "event_reasons_register",
    "refuse",
    "refuse_with",
    "EventScope",
    "SecurityEvent",
    "denial_writer",
    "event_record",
    "event_recorded",
    "event_scope",
    "event_scope_current",
    "event_scope_device",
    "event_scope_device_subject",
    "event_scope_network",
    "event_scope_risk",
    "events_flush",
    "events_flush_if_due",
    "events_purge_old",
]
