"""Every kind of security event, declared once, and the reasons rules match on.

A kind names what happened (``api_key_auth``, ``rate_limited``); its
``reason`` says why (an error code such as ``api_key_invalid``, or a limit
such as ``lookup_distinct_per_ip``). ``event_record`` refuses a kind that is
not declared here (or by an app through ``event_kinds_register``), the docs'
events table is generated from this catalogue, and the automatic-blocking
rules are checked against kinds and reasons at start-up: a rule naming
neither never fires, and says so.

Reasons: every error code of ``ERROR_CATALOGUE`` is one; the others a rule
may match on are declared with ``event_reasons_register``. Reasons made of
parts (``<group>:<dimensions>``, ``<verifier>_<why>``) are not declared.
"""

from collections.abc import Mapping
from typing import NamedTuple

from protection.base.exceptions import ERROR_CATALOGUE


class EventKindSpec(NamedTuple):
    decisions: tuple[str, ...]  # what it records: allow, deny, alert
    description: str


EVENT_KINDS: dict[str, EventKindSpec] = {
    "admin_locked_out": EventKindSpec(
        ("alert",),
        (
            "django-axes locked a staff login out (too many failures of one username from "
            "one address); `axes_reset` lifts it. Written within the event write budget."
        ),
    ),
    "admin_login_failed": EventKindSpec(
        ("deny",),
        "A wrong admin password (the username is kept, never the password).",
    ),
    "admin_login_throttled": EventKindSpec(
        ("deny",),
        (
            "An admin login refused before any password was hashed (429): reason "
            "`admin_login:ip` (the address's attempts), `admin_login:global` (every "
            "outside client's attempts), `admin_login:username` (the username's short "
            "lockout); or a client outside `GATEHOUSE_ADMIN_NETWORKS` (403, "
            "`admin_network`)."
        ),
    ),
    "api_key_auth": EventKindSpec(
        ("deny",),
        (
            "A request's API key was refused; the reason is the error code "
            "(`api_key_invalid`, `origin_not_allowed`, `scope_denied`…). Details: public id"
            " or `key_fingerprint`, `origin`, `scope`, query `parameter`; never the key."
        ),
    ),
    "api_key_lifecycle": EventKindSpec(
        ("allow",),
        (
            "An API key was created, changed, rotated (on the old key) or revoked. Details:"
            " `by`, and `kind`/`replaces`, `fields`, `successor`/`grace_seconds` or "
            "`reason`."
        ),
    ),
    "attestation_failed": EventKindSpec(
        ("deny", "alert"),
        (
            "App attestation evidence (Approov, App Check) was missing or not accepted; "
            "reason `<verifier>_<why>`, details name the verifier and device. A `dry_run` "
            "alert when the key's evidence is in observe mode."
        ),
    ),
    "attestation_invalid": EventKindSpec(
        ("deny",),
        (
            "An App Attest attestation or assertion was not valid (reason: why; details: "
            "the device's key id)."
        ),
    ),
    "attestation_replayed": EventKindSpec(
        ("deny",),
        (
            "Attestation evidence was used twice (an App Attest counter that did not grow, "
            "a consumed App Check token, a key id attested again)."
        ),
    ),
    "attestation_unavailable": EventKindSpec(
        ("alert",),
        (
            "A verifier could not work (not configured, key set unreachable): an alert, the"
            " client got 503."
        ),
    ),
    "blocked": EventKindSpec(
        ("deny",),
        (
            "A request hit an active block (at most one event per block per process per "
            "minute). Details: `block_id`, `block_kind`, and `network` (`asn`, `country`, "
            "`class`) when the request's network origin was checked."
        ),
    ),
    "cache_unavailable": EventKindSpec(
        ("alert",),
        (
            "The shared cache (Redis) failed; the limiter falls back as "
            "`RATE_LIMIT_CACHE_FAILURE` says (once per process per minute)."
        ),
    ),
    "captcha_failed": EventKindSpec(
        ("deny", "alert"),
        (
            "A Turnstile or hCaptcha token was missing or refused (`details.provider`; "
            "reasons `<provider>_missing`, `_malformed`, `_rejected`, `_duplicate`, "
            "`_hostname`, `turnstile_action`, `hcaptcha_stale`), with the provider's "
            "hostname and error codes."
        ),
    ),
    "captcha_unavailable": EventKindSpec(
        ("alert",),
        (
            "Turnstile or hCaptcha could not be asked (`details.provider`): `fail_closed` "
            "(503) or `fail_open` (accepted, `<PROVIDER>_FAIL_OPEN`)."
        ),
    ),
    "challenge_failed": EventKindSpec(
        ("deny", "alert"),
        (
            "A proof-of-work solution was missing, malformed, forged, wrong, expired or "
            "issued to another key (reasons `pow_missing`, `pow_malformed`, `pow_not_ours`,"
            " `pow_expired`, `pow_bad_signature`, `pow_wrong_solution`, `pow_other_key`;"
            " `pow_too_easy`: solved at a lower level than the challenge ladder now asks)."
        ),
    ),
    "challenge_issued": EventKindSpec(
        ("allow",),
        (
            "The first challenge of each key in each clock hour, with "
            "`details.previous_hour_count` (issuance is counted, not logged per request)."
        ),
    ),
    "challenge_ladder": EventKindSpec(
        ("alert",),
        (
            "The challenge ladder in dry run would have asked a session start for more "
            "evidence than its key's floor, or refused it (reason: the tier; "
            "`details.dry_run`, `details.risk`: `tier`, `score`, `would_ask`, `would_deny`)."
        ),
    ),
    "challenge_replayed": EventKindSpec(
        ("deny", "alert"),
        "A proof-of-work solution or reCAPTCHA token was presented twice.",
    ),
    "client_block_changed": EventKindSpec(
        ("alert",),
        "Staff changed an existing block.",
    ),
    "client_blocked": EventKindSpec(
        ("alert",),
        "A block was created or extended (reason: the rule name, or `staff`).",
    ),
    "client_unblocked": EventKindSpec(
        ("allow",),
        "A block was lifted (from the admin or `unblock_client`).",
    ),
    "dpop_binding_mismatch": EventKindSpec(
        ("deny",),
        "A DPoP proof signed by another key than the token is bound to (a stolen token).",
    ),
    "dpop_nonce_required": EventKindSpec(
        ("deny",),
        "A DPoP proof without the server nonce `DPOP_NONCE_REQUIRED` asks for.",
    ),
    "dpop_proof_invalid": EventKindSpec(
        ("deny",),
        (
            "A DPoP proof was malformed or did not check (reason: `typ`, `alg`, `jwk`, "
            "`htm`, `htu`, `iat`, `ath`, `signature`…)."
        ),
    ),
    "dpop_replayed": EventKindSpec(
        ("deny",),
        "A DPoP proof's `jti` was seen before (on any worker).",
    ),
    "dpop_required": EventKindSpec(
        ("deny",),
        "A DPoP proof was missing: a bound token sent as Bearer, or a key that requires `dpop`.",
    ),
    "enumeration_suspected": EventKindSpec(
        ("deny", "alert"),
        (
            "A lookup crossed a distinct-identifiers limit (reason: the policy, e.g. "
            "`lookup_distinct_per_ip`); the `ip-enumeration` rule blocks the IP."
        ),
    ),
    "key_abuse_suspected": EventKindSpec(
        ("alert",),
        (
            "A per-key automatic-blocking rule was crossed: the key is never blocked, its "
            "challenge difficulty is raised instead."
        ),
    ),
    "netintel_stale": EventKindSpec(
        ("alert",),
        (
            "No network-origin data is loaded (reason `netintel_missing`) or it is older than "
            "`NETINTEL_MAX_AGE` (`netintel_stale`): clients are classified as unknown and "
            "decisions fail open. At most once per process per hour; run `netintel_update`."
        ),
    ),
    "netintel_update_failed": EventKindSpec(
        ("alert",),
        (
            "`netintel_update` refused a download or a file (mostly malformed, not JSON, "
            "missing); the previous dataset stays current. Details: `error`."
        ),
    ),
    "netintel_updated": EventKindSpec(
        ("allow",),
        (
            "A network-origin dataset was loaded. Details: `dataset`, `asn_ranges`, "
            "`class_ranges`, `autonomous_systems`, `missing` (source files absent)."
        ),
    ),
    "pat_failed": EventKindSpec(
        ("deny", "alert"),
        (
            "A Private Access Token was refused (reasons `pat_malformed`, "
            "`pat_token_type`, `pat_unknown_key`, `pat_signature`, `pat_unknown_challenge`;"
            " `pat_missing` only as a dry-run alert: a missing token is the protocol's "
            "handshake, answered with a challenge and not recorded). Details: `issuer`."
        ),
    ),
    "rate_limited": EventKindSpec(
        ("deny", "alert"),
        (
            "A request was refused with 429 (reason `<group>:<dimensions>` or the sign-up "
            "policy name)."
        ),
    ),
    "recaptcha_failed": EventKindSpec(
        ("deny", "alert"),
        (
            "A reCAPTCHA token was missing or refused (reasons `recaptcha_missing`, "
            "`recaptcha_rejected`, `recaptcha_hostname`, `recaptcha_action`, "
            "`recaptcha_low_score`…)."
        ),
    ),
    "recaptcha_unavailable": EventKindSpec(
        ("alert",),
        (
            "Google could not be asked: `fail_closed` (503) or `fail_open` (accepted, "
            "`RECAPTCHA_FAIL_OPEN`)."
        ),
    ),
    "replica_unavailable": EventKindSpec(
        ("alert",),
        (
            "A read replica was skipped: it failed (reason `down`) or lagged beyond "
            "`DATABASE_REPLICA_MAX_LAG` (`lagging`); the primary answered (once per "
            "process per minute)."
        ),
    ),
    "network_refused": EventKindSpec(
        ("deny",),
        (
            "The network policy's `deny` for the client's network class (reason: the class; "
            "details: the policy that applied, and the network)."
        ),
    ),
    "risk_refused": EventKindSpec(
        ("deny",),
        (
            "The challenge ladder refused a client whose risk tier says `deny` (403 "
            "`risk_too_high`; reason: the tier, `critical` by default), at challenge "
            "issuance or session start. Details: `risk` (`tier`, `score`), `stage`, the "
            "inputs that weighed (`points`)."
        ),
    ),
    "refresh_reuse": EventKindSpec(
        ("deny",),
        "A dead refresh token was presented again: the session is revoked.",
    ),
    "session_issued": EventKindSpec(
        ("allow",),
        (
            "An anonymous session was issued after its evidence passed. Details: `risk` "
            "(the challenge ladder's `tier`, `score`, the evidence `asked` and `shown`)."
        ),
    ),
    "session_refreshed": EventKindSpec(
        ("allow",),
        "A refresh token was rotated.",
    ),
    "session_revoked": EventKindSpec(
        ("allow",),
        "A session was revoked: `client_logout`, `refresh_reuse` or `admin:<username>`.",
    ),
    "token_auth": EventKindSpec(
        ("deny",),
        (
            "An access or refresh token was refused; the reason is the error code "
            "(`token_invalid`, `token_expired`, `session_revoked`…). Never the token."
        ),
    ),
    "webhook_endpoint_changed": EventKindSpec(
        ("allow",),
        (
            "A webhook endpoint was created, changed or enabled again (reason `created`, "
            "`changed`, `enabled`; details: `endpoint_id`, `by`). Never the secret."
        ),
    ),
    "webhook_endpoint_disabled": EventKindSpec(
        ("alert",),
        (
            "A webhook endpoint was disabled: reason `failing` (every delivery failed for "
            "`WEBHOOKS_DISABLE_AFTER`), `gone` (it answered 410), `target_refused` (its host "
            "now resolves to a non-public address) or `staff`. Details: `endpoint_id`, "
            "`failing_since`, `failures`, `last_error`."
        ),
    ),
}

# Reasons (beyond the error codes) that an automatic-blocking rule may name.
# Protection's own default rules name this one: an app that records lookups
# (signup) uses it for a sweep seen from one client.
EVENT_REASONS: dict[str, str] = {
    "lookup_distinct_per_ip": "One IP looked up too many different identifiers (a sweep).",
}


def event_kinds_register(kinds: Mapping[str, EventKindSpec]) -> None:
    """Declare an app's own event kinds (from its ``AppConfig.ready``); once each."""
    for name, spec in kinds.items():
        if EVENT_KINDS.get(name, spec) != spec:
            raise ValueError(f"Event kind {name!r} is already declared differently")
        EVENT_KINDS[name] = spec


def event_reasons_register(reasons: Mapping[str, str]) -> None:
    """Declare reasons (name -> meaning) that rules may match on."""
    EVENT_REASONS.update(reasons)


def event_kind_declared(name: str) -> bool:
    return name in EVENT_KINDS


def event_reason_declared(name: str) -> bool:
    return name in EVENT_REASONS or name in ERROR_CATALOGUE
