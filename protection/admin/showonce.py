"""The admin's show-once page for new raw API keys: a redirect after the POST, one view.

Creating or rotating keys is a POST; answering it with the page that shows
the raw keys meant that reloading it (or going back to it) submitted the
form again and made another key. Now the POST stores the keys for one view
and redirects (303) to it; the first GET shows them and deletes them, so a
reload or the back button shows "already shown" and nothing is re-created.

The raw keys never reach the database: they are encrypted (AES-GCM) with a
fresh 256-bit key that only the browser holds (an HttpOnly, SameSite=Strict
cookie scoped to the view's path), and only the ciphertext waits in the
cache, for at most ``TTL`` seconds. Neither half alone reveals a key, and
only the staff user who made them can open the view. Without a working
cache the POST shows the keys directly, as before (the key must not be lost).
"""

import base64
import json
import logging
import secrets
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect

logger = logging.getLogger("gatehouse.admin")

TTL = 300
COOKIE = "gatehouse_shown_once"
_CACHE_PREFIX = "gatehouse:admin:shown-once:"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode()


def shown_once_stash(
    request: HttpRequest, *, payload: dict[str, Any], view_url: str, token: str
) -> HttpResponse | None:
    """Keep ``payload`` for one view at ``view_url``; return the redirect, or None without cache."""
    key = AESGCM.generate_key(bit_length=256)
    nonce = secrets.token_bytes(12)
    sealed = AESGCM(key).encrypt(nonce, json.dumps(payload).encode(), token.encode())
    entry = {"user": request.user.pk, "nonce": _b64(nonce), "sealed": _b64(sealed)}
    try:
        cache.set(_CACHE_PREFIX + token, entry, timeout=TTL)
        stored = cache.get(_CACHE_PREFIX + token) == entry
    except Exception:  # the cache is down: show the keys on the POST's answer instead
        logger.warning("Cannot keep new API keys for the show-once view", exc_info=True)
        stored = False
    if not stored:
        return None
    response = HttpResponseRedirect(view_url, status=303)
    response.set_cookie(
        COOKIE,
        _b64(key),
        max_age=TTL,
        path=view_url,
        secure=request.is_secure() or settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Strict",
    )
    return response


def shown_once_take(request: HttpRequest, *, token: str) -> dict[str, Any] | None:
    """The payload kept for ``token``, once (deleted as it is read); None when gone."""
    cookie = request.COOKIES.get(COOKIE, "")
    try:
        entry = cache.get(_CACHE_PREFIX + token)
        cache.delete(_CACHE_PREFIX + token)
    except Exception:
        logger.warning("Cannot read new API keys for the show-once view", exc_info=True)
        return None
    if not isinstance(entry, dict) or entry.get("user") != request.user.pk or not cookie:
        return None
    try:
        opened = AESGCM(base64.urlsafe_b64decode(cookie)).decrypt(
            base64.urlsafe_b64decode(entry["nonce"]),
            base64.urlsafe_b64decode(entry["sealed"]),
            token.encode(),
        )
    except Exception:  # a cookie from another view, or tampered with
        return None
    payload = json.loads(opened)
    return payload if isinstance(payload, dict) else None


def shown_once_forget(response: HttpResponse, *, view_url: str) -> None:
    """Drop the browser's half, whatever the view showed."""
    response.delete_cookie(COOKIE, path=view_url, samesite="Strict")


def shown_once_token() -> str:
    return secrets.token_urlsafe(16)
