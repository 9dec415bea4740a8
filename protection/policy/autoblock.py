"""Automatic blocking (the policy tier): repeated denials from one client become
a block.

``autoblock_observe`` listens to ``protection.core.events.event_recorded``
(connected in ``ProtectionConfig.ready``); the audit log never calls it. Each
rule of ``AUTO_BLOCK_RULES`` whose ``kinds`` contain the event's kind or
reason counts it in a shared cache counter (no table scan) for the event's
client IP (IPv6 by /64), session, device or API key. A device counts as
itself only when an attestation verified it (``details["device_verified"]``,
or the session's ``device_verified``); a device id a client merely claimed
counts, and is blocked, only as that claim under its API key
(``protection.sessions.devices``), so nobody can get a genuine device
blocked by naming it. The denial that reaches ``threshold`` within ``window`` seconds blocks
that client for ``duration`` seconds, times ``escalation`` per earlier block
by the same rule (capped at ``max_duration``); the block's event names the
rule. The counts ride the request's one round trip
(``protection.core.ratelimit.count_soon``). API keys are never blocked
automatically (a publishable key can be copied out of any app, so blocking it
would let an attacker shut out the genuine app): the rule records a
``key_abuse_suspected`` alert and raises the key's challenge difficulty
(``protection.core.reputation``). Trusted proxy networks (when proxies are
trusted), ``AUTO_BLOCK_EXEMPT_NETWORKS`` and the "unknown client" bucket are
never blocked: blocking them would refuse every client behind them.
"""

import datetime
import functools
import logging
from typing import Any

from django.utils import timezone

from protection.base.clientip import UNKNOWN_IP, ip_in_networks, normalize_ip, rate_limit_ident
from protection.blocks.models import BlockedClient
from protection.blocks.services import block_create
from protection.conf import gatehouse_settings
from protection.core.events import event_record
from protection.core.ratelimit import Hit, RateLimitResult, count_soon
from protection.core.reputation import key_difficulty_boost_raise
from protection.sessions import AnonymousSession
from protection.sessions.devices import device_claim_value

logger = logging.getLogger("gatehouse.autoblock")


def autoblock_exempt(ip: str) -> bool:
    """Addresses never blocked automatically (by a rule, or by a fraud label):
    the unknown-client bucket, ``AUTO_BLOCK_EXEMPT_NETWORKS`` and, when
    proxies are trusted, the trusted proxy networks."""
    if ip == UNKNOWN_IP or ip_in_networks(ip, gatehouse_settings.AUTO_BLOCK_EXEMPT_NETWORKS):
        return True
    proxies_trusted = int(gatehouse_settings.TRUSTED_PROXIES or 0) > 0
    return proxies_trusted and ip_in_networks(ip, gatehouse_settings.TRUSTED_PROXY_NETWORKS)


def _session_device(session_id: Any) -> tuple[str, bool, str]:
    """The device id the session was issued to, whether it was verified, and
    the session's key public id (("", False, "") if none or no session)."""
    if not session_id:
        return "", False, ""
    rows = AnonymousSession.objects.filter(pk=session_id).values_list(
        "device_id", "device_verified", "api_key__public_id"
    )
    return next(iter(rows), ("", False, ""))


def _device_subject(event: Any) -> tuple[str, str] | None:
    """A verified device blocks as itself; a claimed one only as its claim under its key."""
    details = event.details or {}
    device, verified = details.get("device_id"), details.get("device_verified") is True
    public_id = event.api_key.public_id if event.api_key_id else ""
    if not device:
        device, verified, session_key = _session_device(event.session_id)
        public_id = public_id or session_key
    if not device:
        return None
    device = str(device)[:128]
    if verified:
        return "device", device
    if not public_id:
        return None  # a claim under no key: nothing to scope it to
    return "device", device_claim_value(api_key_public_id=public_id, device_id=device)


def _subject(dimension: str, event: Any) -> tuple[str, str] | None:
    """Return ``(block_kind, value)`` of the client the rule counts, or None."""
    if dimension == "ip":
        ip = normalize_ip(str(event.client_ip or ""))
        if ip is None or autoblock_exempt(ip):
            return None
        ident = rate_limit_ident(ip)
        return ("cidr", ident) if "/" in ident else ("ip", ident)
    if dimension == "session" and event.session_id:
        return "session", str(event.session_id)
    if dimension == "device":
        return _device_subject(event)
    if dimension == "key" and event.api_key_id:
        return "api_key", event.api_key.public_id
    return None


def _escalated_duration(rule: dict, kind: str, value: str, now: datetime.datetime) -> int:
    lookback = now - datetime.timedelta(seconds=int(gatehouse_settings.BLOCKS_KEEP_ENDED_FOR))
    earlier = BlockedClient.objects.filter(
        kind=kind, value=value, created_by_rule=rule["name"], created_at__gte=lookback
    ).count()
    duration = int(rule["duration"]) * int(rule.get("escalation", 1)) ** earlier
    return min(duration, int(rule.get("max_duration", duration)))


def _boost_key(rule: dict, event: Any) -> None:
    level = key_difficulty_boost_raise(
        public_id=event.api_key.public_id,
        amount=int(rule.get("difficulty_boost", 1)),
        duration=int(rule["duration"]),
    )
    event_record(
        kind="key_abuse_suspected",
        decision="alert",
        reason=rule["name"][:64],
        api_key=event.api_key,
        details={"rule": rule["name"], "difficulty_boost": level, "trigger": event.kind},
    )


def _block(rule: dict, kind: str, value: str, event: Any, now: datetime.datetime) -> None:
    if rule.get("dry_run"):
        event_record(
            kind="client_blocked",
            decision="alert",
            reason=rule["name"][:64],
            details={"dry_run": True, "block_kind": kind, "trigger": event.kind},
        )
        return
    seconds = _escalated_duration(rule, kind, value, now)
    block_create(
        kind=kind,
        value=value,
        reason=f"automatic: {rule['name']}",
        duration=datetime.timedelta(seconds=seconds),
        rule=rule["name"],
        now=now,
        details={"trigger": event.kind, "duration": seconds},
    )


def _act_on_crossing(
    rule: dict,
    subject: tuple[str, str],
    threshold: int,
    event: Any,
    now: datetime.datetime,
    results: list[RateLimitResult],
) -> None:
    # Only the denial that crosses the line acts.
    if results and results[0].count == threshold:
        _act(rule, subject, event, now)


def _act(rule: dict, subject: tuple[str, str], event: Any, now: datetime.datetime) -> None:
    if rule["dimension"] == "key":
        _boost_key(rule, event)
    else:
        _block(rule, subject[0], subject[1], event, now)


def autoblock_observe(
    sender: Any = None, *, event: Any, now: datetime.datetime | None = None, **kwargs: Any
) -> None:
    """``event_recorded`` receiver: count a deny event against the rules; block
    (or alert) when one is crossed.

    Inside a request the counts ride the request's round trip
    (``count_soon``), so a refused request stays cheap; the rule acts when
    they come back. Never raises: automatic blocking must not turn a denial
    into a 500.
    """
    if event.decision != "deny":
        return
    when = now or timezone.now()
    for rule in gatehouse_settings.AUTO_BLOCK_RULES:
        try:
            kinds = rule["kinds"]
            if event.kind not in kinds and event.reason not in kinds:
                continue
            subject = _subject(rule["dimension"], event)
            if subject is None:
                continue
            threshold = int(rule["threshold"])
            hit = Hit(
                group=f"autoblock:{rule['name']}",
                ident=f"{subject[0]}:{subject[1]}",
                rate=f"{threshold}/{int(rule['window'])}s",
            )
            count_soon(
                [hit], functools.partial(_act_on_crossing, rule, subject, threshold, event, when)
            )
        except Exception:
            logger.exception("Automatic blocking rule %r failed", rule.get("name"))
