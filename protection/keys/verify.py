"""Verifying a presented key on every request: the hot path.

Order of checks: offline parse (no query for a malformed key), lookup by
public id (through the one-second per-process cache), constant-time hash
comparison (computed even for unknown ids), kind, revoked, expired, secret
key used from a browser, origin. Each refusal is recorded with ``refuse`` (an
``api_key_auth`` event whose reason is the error code); the raw key never
reaches it.
"""

import datetime
import logging
from typing import Any
from urllib.parse import parse_qsl, unquote_plus

from django.db import DatabaseError
from django.db.models import Q
from django.db.models.base import ModelState
from django.utils import timezone

from protection.base import crypto
from protection.base.exceptions import ProtectionError
from protection.conf import gatehouse_settings
from protection.core.events import refuse
from protection.core.metrics import metrics_timer
from protection.keys.cache import known_public_ids, verified_keys
from protection.keys.models import ApiKey, ApiKeyStatus, api_key_status

logger = logging.getLogger("gatehouse.keys")

# Query parameters that clients use by mistake to carry a key; any key-shaped
# string anywhere in the query string is refused as well.
QUERY_KEY_NAMES = frozenset({"api_key", "apikey", "api-key", "key", "x-api-key", "x_api_key"})
AUTH_EVENT = "api_key_auth"


def _deny(
    code: str, *, api_key: ApiKey | None = None, details: dict[str, Any] | None = None
) -> ProtectionError:
    return refuse(code, kind=AUTH_EVENT, api_key=api_key, details=details)


def _fingerprint(raw_key: Any) -> dict[str, Any]:
    if not isinstance(raw_key, str):
        return {}
    # Lets repeated bad keys be correlated in the audit log without storing them.
    return {"key_fingerprint": crypto.keyed_digest(raw_key, purpose="api_key_fingerprint")[:16]}


def _lookup(public_id: str) -> ApiKey | None:
    entry = verified_keys.get(public_id)
    if entry is not None:
        return entry.api_key
    if not known_public_ids.may_exist(public_id):
        verified_keys.put(public_id, None)
        return None
    api_key = ApiKey.objects.filter(public_id=public_id).first()
    verified_keys.put(public_id, api_key)
    return api_key


def _touch(api_key: ApiKey, now: datetime.datetime) -> None:
    """Record use at most once per interval per key, never a write per request."""
    interval = datetime.timedelta(seconds=gatehouse_settings.API_KEY_LAST_USED_INTERVAL)
    if api_key.last_used_at is not None and now - api_key.last_used_at < interval:
        return
    try:
        ApiKey.objects.filter(pk=api_key.pk).filter(
            Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - interval)
        ).update(last_used_at=now)
    except DatabaseError:
        # Bookkeeping only: a failed write must not refuse a valid key.
        logger.warning("could not record last use of API key %s", api_key.public_id)
        return
    cached = verified_keys.get(api_key.public_id)
    if cached is not None and cached.api_key is not None:
        # Other processes may have written it first: either way it is now recent.
        cached.api_key.last_used_at = now


def api_key_verify(
    *,
    raw_key: str | None,
    origin: str | None = None,
    now: datetime.datetime | None = None,
) -> ApiKey:
    """Return the key for ``raw_key`` if it may be used now from ``origin``.

    Raises ProtectionError: api_key_missing, api_key_invalid (malformed,
    unknown id or wrong secret alike), api_key_revoked, api_key_expired,
    secret_key_in_browser, origin_not_allowed. ``origin`` is the browser's
    Origin header (None when absent: servers and mobile apps are not
    origin-checked). The raw key is taken byte-exact: surrounding whitespace
    of any kind makes it invalid.
    """
    with metrics_timer("key"):
        return _api_key_verify(raw_key=raw_key, origin=origin, now=now)


def _api_key_verify(
    *, raw_key: str | None, origin: str | None, now: datetime.datetime | None
) -> ApiKey:
    if not raw_key:
        raise _deny("api_key_missing")
    parsed = crypto.parse_raw_key(raw_key)
    if parsed is None:
        raise _deny("api_key_invalid", details=_fingerprint(raw_key))
    api_key = _lookup(parsed.public_id)
    stored_hash = api_key.secret_hash if api_key is not None else crypto.UNKNOWN_KEY_HASH
    # Hash and compare before looking at api_key, so unknown ids cost the same.
    matches = crypto.secret_matches(parsed.secret, stored_hash)
    if not matches or api_key is None or api_key.kind != parsed.kind:
        raise _deny("api_key_invalid", details={"public_id": parsed.public_id})
    now = now or timezone.now()
    status = api_key_status(api_key, now)
    if status == ApiKeyStatus.REVOKED:
        raise _deny("api_key_revoked", api_key=api_key)
    if status == ApiKeyStatus.EXPIRED:
        raise _deny("api_key_expired", api_key=api_key)
    if origin is not None:
        if api_key.kind == ApiKey.Kind.SECRET:
            # A server key seen from a browser has leaked into a front end.
            raise _deny(
                "secret_key_in_browser",
                api_key=api_key,
                details={"origin": origin[:200]},
            )
        if not origin_allowed(api_key, origin):
            raise _deny(
                "origin_not_allowed",
                api_key=api_key,
                details={"origin": origin[:200]},
            )
    _touch(api_key, now)
    return _clone(api_key)


def api_key_recheck(api_key: ApiKey, *, now: datetime.datetime | None = None) -> None:
    """Read ``api_key``'s row again and refuse the request if it was revoked, expired
    or deleted since it was verified (the keys version changed mid-request).

    Raises ProtectionError api_key_revoked, api_key_expired, api_key_invalid
    (each recorded); refreshes this process's cache entry otherwise.
    """
    fresh = ApiKey.objects.filter(pk=api_key.pk).first()
    if fresh is None:
        raise _deny("api_key_invalid", details={"public_id": api_key.public_id})
    verified_keys.put(fresh.public_id, fresh)
    status = api_key_status(fresh, now or timezone.now())
    if status == ApiKeyStatus.REVOKED:
        raise _deny("api_key_revoked", api_key=fresh)
    if status == ApiKeyStatus.EXPIRED:
        raise _deny("api_key_expired", api_key=fresh)


def _clone(api_key: ApiKey) -> ApiKey:
    """Callers get their own instance: the cached one is shared by every request.

    Cheaper than copy.copy (no pickling protocol); related objects are
    reloaded lazily by the clone rather than shared.
    """
    clone = ApiKey.__new__(ApiKey)
    clone.__dict__.update(api_key.__dict__)
    clone._state = ModelState()
    clone._state.db = api_key._state.db
    clone._state.adding = False
    return clone


def api_key_query_refusal(query_string: str) -> None:
    """Refuse (``api_key_in_query``) a query string that carries a key.

    A parameter named like a key, or any key-shaped string anywhere in the
    query (name or value, percent-decoded or not, with or without its
    ``gh_pub_``/``gh_sec_`` prefix), is refused: keys in URLs
    end up in logs, proxies and browser history. The event keeps only a
    keyed fingerprint of what was found, never the key.
    """
    for name, _value in parse_qsl(query_string, keep_blank_values=True):
        if name.strip().lower() in QUERY_KEY_NAMES:
            # One of the names above: safe to record as is.
            raise _deny("api_key_in_query", details={"parameter": name.strip().lower()})
    decoded = unquote_plus(query_string)
    # Key-shaped anywhere, even without its gh_pub_/gh_sec_ prefix.
    if crypto.contains_raw_key(decoded) or crypto.contains_raw_key(query_string):
        raise _deny("api_key_in_query", details=_fingerprint(decoded))


def origin_allowed(api_key: ApiKey, origin: str) -> bool:
    """True when ``origin`` is exactly one of the key's allowed origins.

    An empty list allows no browser origin at all; ``null``, look-alike
    hosts, other schemes or ports and trailing paths never match.
    """
    return origin.lower() in api_key.allowed_origins


def api_key_require_scope(api_key: ApiKey, scope: str) -> None:
    """Raise ``scope_denied`` (and record it) unless the key carries ``scope``."""
    if scope not in api_key.scopes:
        raise _deny("scope_denied", api_key=api_key, details={"scope": scope})
