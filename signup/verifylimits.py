"""What verification adds to the gate's plans: the create's send counters, the
confirm's identity limits (pure functions, like ``signup.limits``).

A create in verification mode counts, after the sign-up limits, in order:

1. ``cooldown``: a claim on (session, sign-up) for ``SIGNUP_VERIFY_RESEND_COOLDOWN``
   seconds. Taken already: this is a repeat within the cooldown, which sends
   nothing; its refusal stops the counting, so nothing below is spent;
2. ``verify_sends_per_address``: sends to the code's address from anywhere;
3. in phone mode, the SMS counters (``signup.pumping.sms_items``): the
   conversion monitor's two, then the send budgets per prefix, country, key;
4. ``notice_email`` (and in phone mode ``notice_phone``): a tally per address
   over ``SIGNUP_VERIFY_NOTICE_INTERVAL``; the first request of the interval
   may send a taken address's owner the notice.

None of them depends on whether the address is taken (the answer must not
either): they are counted for every create. ``verify_judge`` turns a budget
into a 429 and the monitor's verdict into a refusal that blocks the prefix;
``verify_send`` reads the rest for the service (the view gets the results
from the request context).

A confirm counts its identity limits: per identifier (the email or phone it
names) and per device (the session's, when it has one).
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from protection.base.crypto import keyed_digest
from protection.base.exceptions import ProtectionError
from protection.core.events import Refusal
from protection.core.keyspace import owned_key
from protection.core.ratelimit import Claim, Hit, Item, RateLimitResult, Tally
from signup import pumping
from signup.conf import signup_settings
from signup.limits import Asker, identifier_digest, limit_exceeded


def signup_identity_digest(email: str, phone: str | None) -> str:
    """Keyed digest of what makes two creates "the same sign-up": email and phone."""
    return keyed_digest(f"{email}\x00{phone or ''}", purpose="signup-identity")


def code_address(body: Any) -> str:
    """The address the code goes to: the phone in phone mode, else the email."""
    return body.phone if body.verify == "phone" else body.email


@dataclass(frozen=True)
class VerifySend:
    """What the counters said about sending, for the service."""

    cooldown: bool = False  # a repeat within the cooldown: send nothing, change nothing
    notice_email: bool = False  # the email's first request of the notice interval
    notice_phone: bool = False  # the phone's (phone mode)


SEND_BUDGETS = frozenset(
    {"verify_sends_per_address", "sms_per_prefix", "sms_per_country", "sms_per_key"}
)


def verify_items(body: Any, asker: Asker) -> list[tuple[str, Item]]:
    """The named counters of a create in verification mode (none in mode "none",
    or for a replay of a stored answer)."""
    if body.verify == "none" or body.replay is not None:
        return []
    session_id = str(asker.session.id)
    identity = signup_identity_digest(body.email, body.phone)
    cooldown_key = owned_key(
        "gh:verify:cooldown:" + keyed_digest(f"{session_id}\x00{identity}", purpose="ratelimit"),
        owner=session_id,
    )
    items: list[tuple[str, Item]] = [
        (
            "cooldown",
            Claim(cooldown_key, max(1, int(signup_settings.SIGNUP_VERIFY_RESEND_COOLDOWN))),
        ),
        (
            "verify_sends_per_address",
            Hit(
                "signup.verify.address",
                identifier_digest(code_address(body)),
                signup_settings.SIGNUP_VERIFY_SENDS_PER_ADDRESS_RATE,
            ),
        ),
    ]
    if body.verify == "phone" and body.sms is not None:
        items += pumping.sms_items(body.sms, asker.api_key_public_id)
    notice_ttl = max(1, int(signup_settings.SIGNUP_VERIFY_NOTICE_INTERVAL))
    items.append(("notice_email", Tally(_notice_key(body.email), notice_ttl)))
    if body.verify == "phone" and body.phone:
        items.append(("notice_phone", Tally(_notice_key(body.phone), notice_ttl)))
    return items


def _notice_key(address: str) -> str:
    digest = identifier_digest(address)
    return owned_key("gh:verify:notice:" + digest, owner=digest)


def verify_hits(body: Any, asker: Asker) -> list[Item]:
    """``verify_items`` without their names, for the plan's ``hits``."""
    return [item for _name, item in verify_items(body, asker)]


def verify_judge(body: Any, asker: Asker, results: Sequence[RateLimitResult]) -> Refusal | None:
    """The refusal the verification counters call for, or None: the conversion
    monitor's verdict on the prefix (403 ``blocked``, and the prefix is blocked),
    or a send budget spent (429)."""
    named = verify_items(body, asker)
    counted = dict(zip((name for name, _ in named), results, strict=False))
    sends, confirms = counted.get("monitor_sends"), counted.get("monitor_confirms")
    if (
        sends is not None
        and confirms is not None
        and pumping.sms_pumping_suspected(sends, confirms)
    ):
        return Refusal(
            ProtectionError("blocked"),
            kind="sms_pumping_suspected",
            reason="sms_pumping",
            details={
                "phone_prefix": body.sms.prefix,
                "sends": sends.count,
                "confirms": confirms.count,
            },
        )
    for (name, item), result in zip(named, results, strict=False):
        if name not in SEND_BUDGETS or result.allowed or not isinstance(item, Hit):
            continue
        details: dict[str, Any] = {"email_digest": identifier_digest(body.email)}
        if body.sms is not None:
            details["phone_prefix"] = body.sms.prefix
        error = limit_exceeded(name, item.rate, result)
        return Refusal(error, kind="rate_limited", reason=name, details=details)
    return None


def verify_send(body: Any, asker: Asker, results: Sequence[RateLimitResult]) -> VerifySend:
    """What the counters of an allowed create mean for sending (``results``: the
    verification counters' results, in ``verify_items`` order)."""
    counted = dict(zip((name for name, _ in verify_items(body, asker)), results, strict=False))
    claim = counted.get("cooldown")
    if claim is None or not claim.allowed:
        return VerifySend(cooldown=True)
    email_tally, phone_tally = counted.get("notice_email"), counted.get("notice_phone")
    return VerifySend(
        notice_email=email_tally is not None and email_tally.count == 1,
        notice_phone=phone_tally is not None and phone_tally.count == 1,
    )


# --- the confirm -------------------------------------------------------------------

CONFIRM_REASONS = ("confirm_per_identifier", "confirm_per_device")


def _confirm_items(body: Any, asker: Asker) -> list[tuple[str, Hit]]:
    if body.replay is not None:
        return []
    items = []
    if body.identifier:
        items.append(
            (
                "confirm_per_identifier",
                Hit(
                    "signup.confirm.identifier",
                    identifier_digest(body.identifier),
                    signup_settings.SIGNUP_CONFIRM_IDENTIFIER_RATE,
                ),
            )
        )
    device = getattr(asker.session, "device_id", "") or ""
    if device:
        items.append(
            (
                "confirm_per_device",
                Hit("signup.confirm.device", device, signup_settings.SIGNUP_CONFIRM_DEVICE_RATE),
            )
        )
    return items


def confirm_hits(body: Any, asker: Asker) -> list[Item]:
    """The confirm's identity counters: per identifier (a confirm by code) and
    per device (when the session has one). A replay counts nothing."""
    return [item for _name, item in _confirm_items(body, asker)]


def confirm_judge(body: Any, asker: Asker, results: Sequence[RateLimitResult]) -> Refusal | None:
    """The first confirm limit ``results`` refuse, as a refusal to record, or None."""
    for (name, item), result in zip(_confirm_items(body, asker), results, strict=False):
        if result.allowed:
            continue
        details = (
            {"identifier_digest": identifier_digest(body.identifier)} if body.identifier else {}
        )
        error = limit_exceeded(name, item.rate, result)
        return Refusal(error, kind="rate_limited", reason=name, details=details)
    return None
