"""SMS-pumping guards of the phone verification mode.

SMS pumping: bots ask for codes to premium-rate or attacker-owned number
ranges and the service pays for every message. Four guards, cheapest first:

- ``phone_sms_check`` (the create's body step): numbers whose type is
  premium-rate, shared-cost, toll-free, UAN, VoIP or pager
  (``phonenumbers.number_type``) are refused with ``phone_not_allowed``,
  numbers outside ``SMS_COUNTRIES`` with ``phone_country_not_allowed``, a
  blocked prefix with ``blocked``;
- ``sms_items``: send budgets per prefix (E.164 without its last four
  digits), per country and per API key, counted in the request's one round
  trip (``signup.verifylimits``), plus the two counters of the conversion
  monitor;
- ``sms_pumping_suspected``: the monitor's judgement (enough code requests
  from a prefix in the window, too few confirmed);
- ``sms_pumping_observe``: the reaction to the monitor's event, which blocks
  the prefix (block kind ``phone_prefix``) for a duration that escalates
  with every earlier block of it. Reactions listen to events; the judgement
  stays a pure function.

A code request counts whether or not its number is taken: counting only
real sends would let a 429 tell which numbers are registered.
"""

import datetime
import logging
from dataclasses import dataclass
from typing import Any

import phonenumbers
from django.db.models import Q
from django.utils import timezone

from protection.blocks import BlockedClient, block_create, blocks_check
from protection.conf import gatehouse_settings
from protection.core.events import refuse
from protection.core.ratelimit import Hit, Item, RateLimitResult, count_soon
from signup import normalization
from signup.conf import signup_settings

logger = logging.getLogger("gatehouse.signup")

REFUSED_NUMBER_TYPES = {
    phonenumbers.PhoneNumberType.PREMIUM_RATE: "premium_rate",
    phonenumbers.PhoneNumberType.SHARED_COST: "shared_cost",
    phonenumbers.PhoneNumberType.TOLL_FREE: "toll_free",
    phonenumbers.PhoneNumberType.UAN: "uan",
    phonenumbers.PhoneNumberType.VOIP: "voip",
    phonenumbers.PhoneNumberType.PAGER: "pager",
}
MONITOR_GROUP = "signup.sms.monitor"
# The monitor's two counters share a group and an ident, hence one bucket and
# one window (its jitter is the bucket's): confirms are compared with the sends
# of the same window. Their limits differ by one only so that each has a cache
# key of its own (a bucket's key names its rate); neither ever refuses.
_MONITOR_LIMIT = 999_999_999
BLOCK_RULE = "sms-pumping"


@dataclass(frozen=True)
class SmsTarget:
    """Where a code SMS would go, as the guards count it."""

    prefix: str  # E.164 without its last four digits
    country: str  # ISO 3166 alpha-2 ("" when libphonenumber cannot tell)


def sms_target(phone: str) -> SmsTarget:
    """The prefix and country of a normalised (E.164) number."""
    number = phonenumbers.parse(phone, None)
    return SmsTarget(
        normalization.phone_prefix(phone), phonenumbers.region_code_for_number(number) or ""
    )


def phone_sms_check(
    *, phone: str, api_key: Any = None, session_id: Any = None, client_ip: str | None = None
) -> SmsTarget:
    """Refuse a number codes must not be sent to; return where the code would go.

    Raises (recorded as ``person_create_refused``) ``phone_not_allowed`` for
    a premium-rate, shared-cost, toll-free, UAN, VoIP or pager number,
    ``phone_country_not_allowed`` outside ``SMS_COUNTRIES``; ``blocked`` for
    a blocked prefix.
    """
    target = sms_target(phone)
    who = {"api_key": api_key, "session_id": session_id, "client_ip": client_ip}
    number_type = REFUSED_NUMBER_TYPES.get(phonenumbers.number_type(phonenumbers.parse(phone)))
    if number_type is not None:
        raise refuse(
            "phone_not_allowed",
            kind="person_create_refused",
            details={"phone_prefix": target.prefix, "number_type": number_type},
            **who,
        )
    allowed = [code.upper() for code in signup_settings.SMS_COUNTRIES or []]
    if allowed and target.country not in allowed:
        raise refuse(
            "phone_country_not_allowed",
            kind="person_create_refused",
            details={"phone_prefix": target.prefix, "country": target.country},
            **who,
        )
    blocks_check(phone_prefix=target.prefix)
    return target


def _monitor_rates() -> tuple[str, str]:
    window = int(signup_settings.SMS_PUMPING_WINDOW)
    return f"{_MONITOR_LIMIT}/{window}s", f"{_MONITOR_LIMIT - 1}/{window}s"


def sms_items(target: SmsTarget, api_key_public_id: str) -> list[tuple[str, Item]]:
    """The phone-mode counters of one code request, named, in counting order:
    the monitor's (this request counted, the window's confirms read), then
    the send budgets (their names are the refusals' reasons)."""
    sends_rate, confirms_rate = _monitor_rates()
    items: list[tuple[str, Item]] = [
        ("monitor_sends", Hit(MONITOR_GROUP, target.prefix, sends_rate)),
        ("monitor_confirms", Hit(MONITOR_GROUP, target.prefix, confirms_rate, increment=False)),
    ]
    items += [
        ("sms_per_prefix", Hit("signup.sms.prefix", target.prefix, rate))
        for rate in signup_settings.SMS_PREFIX_RATES
    ]
    items.append(
        (
            "sms_per_country",
            Hit("signup.sms.country", target.country, signup_settings.SMS_COUNTRY_RATE),
        )
    )
    items.append(
        ("sms_per_key", Hit("signup.sms.key", api_key_public_id, signup_settings.SMS_KEY_RATE))
    )
    return items


def sms_pumping_suspected(sends: RateLimitResult, confirms: RateLimitResult) -> bool:
    """Whether the prefix's window looks like pumping: enough requests, too few confirmed."""
    if sends.count < int(signup_settings.SMS_PUMPING_MIN_SENDS):
        return False
    return confirms.count < float(signup_settings.SMS_PUMPING_MIN_CONFIRM_RATE) * sends.count


def sms_confirm_count(prefix: str) -> None:
    """Count a confirmed code for ``prefix`` (rides the request's round trip on the way out)."""
    _sends_rate, confirms_rate = _monitor_rates()
    count_soon([Hit(MONITOR_GROUP, prefix, confirms_rate)], lambda results: None)


def sms_pumping_block(*, prefix: str, now: datetime.datetime | None = None) -> BlockedClient | None:
    """Block ``prefix`` for ``SMS_PUMPING_BLOCK_DURATION``, times the escalation
    per earlier block of it by the monitor (within ``BLOCKS_KEEP_ENDED_FOR``);
    None when it is blocked already."""
    now = now or timezone.now()
    kind = BlockedClient.Kind.PHONE_PREFIX
    live = BlockedClient.objects.filter(kind=kind, value=prefix, lifted_at__isnull=True).filter(
        Q(expires_at__isnull=True) | Q(expires_at__gt=now)
    )
    if live.exists():  # several requests crossed at once: one block, not an escalation
        return None
    lookback = now - datetime.timedelta(seconds=int(gatehouse_settings.BLOCKS_KEEP_ENDED_FOR))
    earlier = BlockedClient.objects.filter(
        kind=kind, value=prefix, created_by_rule=BLOCK_RULE, created_at__gte=lookback
    ).count()
    base = int(signup_settings.SMS_PUMPING_BLOCK_DURATION)
    escalation = int(signup_settings.SMS_PUMPING_BLOCK_ESCALATION)
    seconds = min(base * escalation**earlier, int(signup_settings.SMS_PUMPING_BLOCK_MAX_DURATION))
    return block_create(
        kind=kind,
        value=prefix,
        reason=f"automatic: {BLOCK_RULE}",
        duration=datetime.timedelta(seconds=seconds),
        rule=BLOCK_RULE,
        now=now,
        details={"trigger": "sms_pumping_suspected", "duration": seconds},
    )


def sms_pumping_observe(sender: Any = None, *, event: Any, **kwargs: Any) -> None:
    """``event_recorded`` receiver: an ``sms_pumping_suspected`` denial blocks its
    prefix. Never raises: a reaction must not turn the refusal into a 500."""
    if event.kind != "sms_pumping_suspected" or event.decision != "deny":
        return
    prefix = (event.details or {}).get("phone_prefix")
    if not isinstance(prefix, str) or not prefix:
        return
    try:
        sms_pumping_block(prefix=prefix)
    except Exception:
        logger.exception("Could not block a phone prefix for SMS pumping")
