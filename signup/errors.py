"""The sign-up API's own error codes, added to protection's catalogue at startup."""

from protection.base.exceptions import ErrorSpec

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
