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
        "A create was refused: reason `conflict` (email or phone taken) or `disposable_email`.",
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
}
