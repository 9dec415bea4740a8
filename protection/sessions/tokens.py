"""Session tokens on djangorestframework-simplejwt.

The token backend follows ``gatehouse_settings`` on every use (never fixed at
import time), with one pinned algorithm, its own signing key, issuer and
audience. Tokens carry ``sid`` (session id), ``kid`` (API key public id),
``jti``, ``token_type`` (access / refresh), ``iat`` and ``exp``; a session
bound to a DPoP key (RFC 9449) also ``cnf: {"jkt": <key thumbprint>}``.

Decoding refuses (``token_invalid``): another algorithm (``none``, HS512, RS…),
a bad signature, the wrong token type, wrong ``aud`` / ``iss``, and a missing
``exp``, ``jti``, ``sid`` or ``kid``; an expired token is ``token_expired``.
"""

import datetime
import functools
import hashlib
import hmac

from rest_framework_simplejwt.backends import TokenBackend
from rest_framework_simplejwt.exceptions import ExpiredTokenError, TokenError
from rest_framework_simplejwt.tokens import Token

from protection.base.exceptions import ProtectionError
from protection.conf import gatehouse_settings
from protection.core.metrics import metrics_timer

SESSION_CLAIM = "sid"
API_KEY_CLAIM = "kid"
CONFIRMATION_CLAIM = "cnf"  # RFC 7800; "jkt" member per RFC 9449


def token_signing_key() -> str:
    """Return the key tokens are signed with: TOKEN_SIGNING_KEY, or one derived
    from SIGNING_KEY under its own label (never SECRET_KEY, never the pepper)."""
    if gatehouse_settings.TOKEN_SIGNING_KEY:
        return gatehouse_settings.TOKEN_SIGNING_KEY
    return hmac.new(
        gatehouse_settings.SIGNING_KEY.encode(), b"gatehouse:session-tokens", hashlib.sha256
    ).hexdigest()


def token_backend() -> TokenBackend:
    """Return the backend for the current settings (read now, built once per value)."""
    return _token_backend(
        gatehouse_settings.TOKEN_ALGORITHM,
        token_signing_key(),
        gatehouse_settings.TOKEN_AUDIENCE,
        gatehouse_settings.TOKEN_ISSUER,
    )


@functools.lru_cache(maxsize=8)
def _token_backend(algorithm: str, signing_key: str, audience: str, issuer: str) -> TokenBackend:
    # Keyed on the values, so override_settings still takes effect; building a
    # backend (and its PyJWT instance) on every decode cost ~0.1 ms a request.
    return TokenBackend(
        algorithm=algorithm, signing_key=signing_key, audience=audience, issuer=issuer
    )


# Largest ``exp`` accepted (year 3000): datetime cannot hold much more, and a
# larger one would overflow instead of being refused.
_MAX_EXP = 32_503_680_000


class SessionToken(Token):
    lifetime = datetime.timedelta(seconds=1)  # replaced from settings on creation

    def get_token_backend(self) -> TokenBackend:
        return token_backend()

    def check_exp(self, claim: str = "exp", current_time: datetime.datetime | None = None) -> None:
        """Refuse a non-integer or out-of-range ``exp`` before simplejwt turns it into a date.

        PyJWT accepts ``"123"`` and ``1e20`` (it only tries ``int()``); simplejwt
        would then raise TypeError or OverflowError, a 500.
        """
        value = self.payload.get(claim)
        if type(value) is not int or not 0 < value <= _MAX_EXP:
            raise TokenError(f"Token '{claim}' claim is not an integer timestamp")
        super().check_exp(claim, current_time)


class SessionAccessToken(SessionToken):
    token_type = "access"


class SessionRefreshToken(SessionToken):
    token_type = "refresh"


def token_create(
    token_class: type[SessionToken],
    *,
    session_id: str,
    api_key_public_id: str,
    lifetime: datetime.timedelta,
    now: datetime.datetime,
    jkt: str | None = None,
) -> SessionToken:
    """Return a signed-ready token of ``token_class`` for one session.

    ``jkt`` (a DPoP key thumbprint) binds the token to that key (``cnf.jkt``).
    """
    token = token_class()
    token.set_iat(at_time=now)
    token.set_exp(from_time=now, lifetime=lifetime)
    token[SESSION_CLAIM] = session_id
    token[API_KEY_CLAIM] = api_key_public_id
    if jkt:
        token[CONFIRMATION_CLAIM] = {"jkt": jkt}
    return token


def token_jkt(token: SessionToken) -> str | None:
    """Return the DPoP key thumbprint the token is bound to, or None if unbound."""
    confirmation = token.get(CONFIRMATION_CLAIM)
    return confirmation["jkt"] if confirmation else None


def token_decode(token_class: type[SessionToken], raw_token: str) -> SessionToken:
    """Verify ``raw_token`` as ``token_class`` or raise token_invalid / token_expired."""
    with metrics_timer("token"):
        return _token_check(token_class, raw_token)


def _token_check(token_class: type[SessionToken], raw_token: str) -> SessionToken:
    try:
        token = token_class(raw_token)  # type: ignore[arg-type]
    except ExpiredTokenError as exc:
        raise ProtectionError("token_expired") from exc
    except (TokenError, TypeError, ValueError, OverflowError) as exc:
        # Signed but ill-formed claims (a string iat, a huge nbf) end here too.
        raise ProtectionError("token_invalid") from exc
    for claim in (SESSION_CLAIM, API_KEY_CLAIM, "jti"):
        if not isinstance(token.get(claim), str) or not token.get(claim):
            raise ProtectionError("token_invalid")
    confirmation = token.get(CONFIRMATION_CLAIM)
    if confirmation is not None and not (
        isinstance(confirmation, dict) and isinstance(confirmation.get("jkt"), str)
    ):
        # Signed by us, so never seen in practice; but an unreadable binding
        # must not be taken for "unbound".
        raise ProtectionError("token_invalid")
    return token
