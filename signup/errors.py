"""The sign-up API's own error codes, event kinds and reasons, added to
protection's catalogues at startup."""

from protection.base.exceptions import ErrorSpec
from protection.core.events import EventKindSpec

ERROR_CODES: dict[str, ErrorSpec] = {
    "idempotency_in_progress": ErrorSpec(
        409,
        "Request in progress",
        "A request with this Idempotency-Key is still in progress; retry shortly.",
    ),
    "idempotency_conflict": ErrorSpec(
        422,
        "Idempotency key reused",
        "This Idempotency-Key was already used with a different request body.",
    ),
    "disposable_email": ErrorSpec(
        400, "Disposable email address", "Addresses at disposable-mail domains are not accepted."
    ),
    "verification_code_invalid": ErrorSpec(
        400, "Wrong code", "This code is not the one we sent. Check it and try again."
    ),
    "verification_expired": ErrorSpec(
        400,
        "Verification expired",
        "No sign-up is waiting for this code: it expired, was used, or too many wrong codes "
        "were tried. Start the sign-up again to get a new code.",
    ),
    "phone_not_allowed": ErrorSpec(
        400,
        "Phone number not accepted",
        "Codes are not sent to this kind of number (premium-rate, shared-cost, toll-free, "
        "UAN, VoIP or pager). Use a mobile or landline number.",
    ),
    "phone_country_not_allowed": ErrorSpec(
        400,
        "Phone country not accepted",
        "Codes are not sent to numbers of this country.",
    ),
}

EVENT_KINDS: dict[str, EventKindSpec] = {
    "person_created": EventKindSpec(
        ("allow",),
        "A person was created. Details: `person_id` and keyed digests of email and phone, "
        "never the clear text.",
    ),
    "person_labelled": EventKindSpec(
        ("alert",),
        "Staff labelled a person: reason `fraud` or `legit`. Details: `person_id`, "
        "`label_id`, `blocks` (the ids a fraud label applied), `lifted` (the ids a legit "
        "label lifted), `by`; the label's free-text reason stays with the label.",
    ),
    "person_create_refused": EventKindSpec(
        ("deny",),
        "A create was refused: reason `conflict` (email or phone taken), `disposable_email`, "
        "or in phone verification mode `phone_not_allowed` / `phone_country_not_allowed` "
        "(details: `phone_prefix`, the number's type or country).",
    ),
    "verification_started": EventKindSpec(
        ("allow",),
        "A create in verification mode was answered 202: a pending sign-up was made or "
        "replaced. Details: `channel`, the keyed `identifier_digest`, and `sent`: `code`, "
        "`notice` (the address is taken: its owner was told) or `none` (taken, owner already "
        "told today). Staff may see it; the client never does.",
    ),
    "verification_failed": EventKindSpec(
        ("deny",),
        "A confirm was refused: reason `verification_code_invalid` (a wrong code, or any "
        "code for a taken address) or `verification_expired` (nothing pending: expired, "
        "used, void after too many wrong codes). Details: `by` (`code` or `token`), "
        "`identifier_digest`, `attempts`.",
    ),
    "sms_pumping_suspected": EventKindSpec(
        ("deny",),
        "A phone prefix asked for many codes and confirmed few (the conversion monitor): "
        "the request is refused and the prefix blocked (a `client_blocked` alert follows). "
        "Details: `phone_prefix`, `sends`, `confirms` in the window.",
    ),
}

# The sign-up limits, as reasons of rate_limited / enumeration_suspected events.
EVENT_REASONS: dict[str, str] = {
    "lookup_per_session": "A session used up its lookups.",
    "lookup_per_identifier": "One email or phone was looked up too often, from anywhere.",
    "lookup_distinct_per_ip": "One IP looked up too many different identifiers (a sweep).",
    "lookup_distinct_per_key": "One API key looked up too many different identifiers.",
    "create_per_session": "A session used up its creates.",
    "create_per_ip": "One IP created too many persons.",
    "verify_sends_per_address": "One address was sent (or asked for) too many codes today.",
    "sms_per_prefix": "One phone prefix asked for too many SMS codes.",
    "sms_per_country": "One country asked for too many SMS codes.",
    "sms_per_key": "One API key asked for too many SMS codes.",
    "sms_pumping": "A phone prefix asks for codes and confirms few of them (SMS pumping).",
    "confirm_per_identifier": "One email or phone was tried with too many codes.",
    "confirm_per_device": "One device tried too many codes.",
}
