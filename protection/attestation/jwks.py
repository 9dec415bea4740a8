"""Public keys from a JWKS URL, cached so a verification costs no fetch.

Each process keeps the parsed keys of each URL in memory; the fetched JWKS
document is also put in the shared cache, so other processes load it from
there instead of fetching. Keys are kept for the response's
``Cache-Control: max-age``, at most ``APPCHECK_JWKS_MAX_AGE`` and never more
than six hours. An unknown ``kid`` triggers a refetch at most once per
``APPCHECK_JWKS_REFETCH_COOLDOWN`` seconds per process, and (through a
``cache.add`` marker) about once per cooldown across processes: a flood of
random kids costs one fetch, not one per request. A failed fetch keeps the
keys already held (even past their age) and waits for the cooldown too.

The fetch is ``http_request`` (urllib, total deadline, bounded size), a class
attribute so tests inject their own; the clock is the ``now`` passed in.
"""

import hashlib
import json
import logging
import re
import threading
import time
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from django.core.cache import cache
from jwt.algorithms import RSAAlgorithm

from protection.base.processstate import process_state_register
from protection.conf import gatehouse_settings

logger = logging.getLogger("gatehouse.attestation")

HARD_MAX_AGE = 6 * 3600
MAX_RESPONSE_BYTES = 256 * 1024
_MAX_AGE = re.compile(r"(?:^|[,\s])max-age\s*=\s*(\d+)", re.IGNORECASE)

# (url, timeout seconds, body or None, headers) -> (status, body, response headers)
HttpRequest = Callable[[str, float, bytes | None, Mapping[str, str]], tuple[int, bytes, Any]]


def http_request(
    url: str, timeout: float, body: bytes | None = None, headers: Mapping[str, str] | None = None
) -> tuple[int, bytes, Any]:
    """GET (or POST ``body``) ``url`` over http(s) within ``timeout`` seconds in all.

    Returns ``(status, body, headers)``; raises OSError / ValueError on any
    failure, a deadline passed or a body over ``MAX_RESPONSE_BYTES``.
    """
    if urlsplit(url).scheme not in ("http", "https"):
        raise ValueError(f"refusing to fetch {url!r}: http(s) only")
    deadline = time.monotonic() + timeout
    request = urllib.request.Request(url, data=body, headers=dict(headers or {}))
    try:
        response = urllib.request.urlopen(request, timeout=timeout)  # noqa: S310 (scheme checked)
    except urllib.error.HTTPError as error:
        response = error  # a 4xx/5xx still has a status and maybe a body worth reading
    with response:
        chunks, size = [], 0
        while True:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{url}: no complete answer within {timeout}s")
            chunk = response.read1(16384) if hasattr(response, "read1") else response.read(16384)
            if not chunk:
                break
            size += len(chunk)
            if size > MAX_RESPONSE_BYTES:
                raise ValueError(f"{url}: answer larger than {MAX_RESPONSE_BYTES} bytes")
            chunks.append(chunk)
        return response.status, b"".join(chunks), response.headers


def jwks_parse(document: bytes | str) -> dict[str, Any]:
    """Return ``{kid: RSA public key}`` for the RS256 signing keys of a JWKS document.

    ValueError when the document is not a JWKS at all; keys of other types
    or uses are skipped.
    """
    data = json.loads(document)
    if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
        raise ValueError("not a JWKS document")
    keys = {}
    for jwk in data["keys"]:
        if not isinstance(jwk, dict) or jwk.get("kty") != "RSA":
            continue
        if jwk.get("alg", "RS256") != "RS256" or jwk.get("use", "sig") != "sig":
            continue
        kid = jwk.get("kid")
        if not isinstance(kid, str) or not kid:
            continue
        try:
            keys[kid] = RSAAlgorithm.from_jwk(jwk)
        except Exception:  # one bad key must not cost the others
            logger.warning("skipping an unreadable JWKS key kid=%s", kid[:64])
    return keys


def _max_age(headers: Any) -> float:
    ceiling = min(float(gatehouse_settings.APPCHECK_JWKS_MAX_AGE), HARD_MAX_AGE)
    control = headers.get("Cache-Control", "") if headers is not None else ""
    match = _MAX_AGE.search(control or "")
    if match and "no-store" not in control.lower():
        return min(float(match.group(1)), ceiling)
    return ceiling


@dataclass
class _Keys:
    keys: dict[str, Any]
    fetched_at: float
    expires_at: float


@dataclass
class JwksCache:
    """Per-process JWKS keys of each URL; see the module docstring."""

    fetch: HttpRequest = field(default=http_request)
    _entries: dict[str, _Keys] = field(default_factory=dict)
    _quiet_until: dict[str, float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._quiet_until.clear()

    def key_for(self, *, url: str, kid: str, now: float) -> Any | None:
        """The public key ``kid`` of ``url``'s JWKS, or None if it has no such key.

        Raises LookupError when no keys of ``url`` are held at all and they
        cannot be fetched (the caller answers 503, not "invalid").
        """
        entry = self._entries.get(url)
        if entry is None or entry.expires_at <= now or kid not in entry.keys:
            entry = self._refresh(url=url, kid=kid, now=now)
        if entry is None:
            raise LookupError(f"no keys from {url}")
        return entry.keys.get(kid)

    def _refresh(self, *, url: str, kid: str, now: float) -> _Keys | None:
        with self._lock:
            entry = self._entries.get(url)
            if entry is not None and entry.expires_at > now and kid in entry.keys:
                return entry  # another thread got there first
            if now < self._quiet_until.get(url, 0.0):
                return entry  # fetched (or failed) lately: what we hold, maybe stale
            cooldown = float(gatehouse_settings.APPCHECK_JWKS_REFETCH_COOLDOWN)
            self._quiet_until[url] = now + cooldown
            shared = self._shared_read(url, now)
            if shared is not None and (entry is None or shared.fetched_at > entry.fetched_at):
                entry = self._entries[url] = shared
                if kid in entry.keys:
                    return entry
            if not self._shared_fetch_turn(url, cooldown, now) and entry is not None:
                return entry  # another process fetched within the cooldown
            fetched = self._fetch(url, now)
            if fetched is not None:
                entry = self._entries[url] = fetched
            return entry

    def _fetch(self, url: str, now: float) -> _Keys | None:
        timeout = float(gatehouse_settings.APPCHECK_HTTP_TIMEOUT)
        try:
            status, body, headers = self.fetch(url, timeout, None, {"Accept": "application/json"})
            if status != 200:
                raise ValueError(f"HTTP {status}")
            keys = jwks_parse(body)
            if not keys:
                raise ValueError("no usable RS256 key")
        except Exception as exc:
            logger.warning("JWKS fetch from %s failed (%s): keeping the keys held", url, exc)
            return None
        entry = _Keys(keys=keys, fetched_at=now, expires_at=now + _max_age(headers))
        try:
            cache.set(
                _shared_key(url),
                {"jwks": body.decode(), "fetched_at": now, "expires_at": entry.expires_at},
                timeout=max(1, int(entry.expires_at - now)),
            )
        except Exception:  # the shared copy only saves other processes a fetch
            logger.warning("could not share the JWKS (cache unavailable)", exc_info=True)
        return entry

    @staticmethod
    def _shared_read(url: str, now: float) -> _Keys | None:
        try:
            stored = cache.get(_shared_key(url))
            if not stored or float(stored["expires_at"]) <= now:
                return None
            return _Keys(
                keys=jwks_parse(stored["jwks"]),
                fetched_at=float(stored["fetched_at"]),
                expires_at=float(stored["expires_at"]),
            )
        except Exception:
            return None

    @staticmethod
    def _shared_fetch_turn(url: str, cooldown: float, now: float) -> bool:
        """True if this process may fetch now (no other did within the cooldown).

        The marker holds the fetch time, compared with ``now``, so the cooldown
        follows the same clock as everything else (and expires by itself).
        """
        marker = _shared_key(url) + ":fetch"
        timeout = max(1, int(cooldown))
        try:
            if cache.add(marker, now, timeout=timeout):
                return True
            if now - float(cache.get(marker) or 0.0) >= cooldown:
                cache.set(marker, now, timeout=timeout)
                return True
            return False
        except Exception:
            return True  # cache down: the per-process cooldown still bounds fetches


def _shared_key(url: str) -> str:
    return "gh:attest:jwks:" + hashlib.sha256(url.encode()).hexdigest()[:32]


jwks_cache = JwksCache()
process_state_register("JWKS documents", jwks_cache.clear)
