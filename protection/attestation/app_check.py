"""Firebase App Check: a JWT from Firebase proving a genuine app instance.

The token (``X-Firebase-AppCheck`` header) is checked as Firebase documents:
header ``alg`` exactly RS256 and ``typ`` JWT; signature with the key named
by ``kid`` from the App Check JWKS (``protection.attestation.jwks``: cached,
bounded refetch); ``iss`` exactly
``https://firebaseappcheck.googleapis.com/<project number>``; ``aud`` a list
containing ``projects/<project number>``; ``exp`` in the future
(``APPCHECK_LEEWAY`` seconds of skew); ``sub`` (the Firebase app id) on the
allow-list: ``APPCHECK_APP_IDS`` plus the key's
``attestation_overrides["app_check_app_ids"]``.

Limited-use tokens can be consumed (``APPCHECK_CONSUME_URL``): a token
already consumed is ``attestation_replayed``. App Check tokens carry no
device id.
"""

import datetime
import json
from collections.abc import Mapping
from typing import Any

from protection.attestation.base import (
    MAX_EVIDENCE_CHARS,
    AttestationFailure,
    Attested,
    Purpose,
    invalid,
    numeric_claim,
    signed_claims,
    token_replay_id,
    unavailable,
    unverified_header,
    verifier_register,
)
from protection.attestation.jwks import jwks_cache
from protection.conf import gatehouse_settings

NAME = "app_check"
ALGORITHM = "RS256"
ISSUER_PREFIX = "https://firebaseappcheck.googleapis.com/"


def _overrides(api_key: Any) -> Mapping[str, Any]:
    return getattr(api_key, "attestation_overrides", None) or {}


def app_check_project_number(api_key: Any) -> str:
    """The Firebase project number tokens must name for ``api_key`` ("" if none)."""
    number = _overrides(api_key).get("app_check_project_number") or ""
    return str(number or gatehouse_settings.APPCHECK_PROJECT_NUMBER or "").strip()


def app_check_app_ids(api_key: Any) -> frozenset[str]:
    """The Firebase app ids accepted for ``api_key`` (global list plus the key's own)."""
    ids = list(gatehouse_settings.APPCHECK_APP_IDS or [])
    ids += list(_overrides(api_key).get("app_check_app_ids") or [])
    return frozenset(app_id.strip() for app_id in ids if isinstance(app_id, str) and app_id.strip())


def _consume(token: str, project_number: str) -> None:
    url = gatehouse_settings.APPCHECK_CONSUME_URL.replace("{project_number}", project_number)
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if gatehouse_settings.APPCHECK_CONSUME_BEARER:
        headers["Authorization"] = f"Bearer {gatehouse_settings.APPCHECK_CONSUME_BEARER}"
    body = json.dumps({"app_check_token": token}).encode()
    try:
        status, answer, _ = jwks_cache.fetch(
            url, float(gatehouse_settings.APPCHECK_HTTP_TIMEOUT), body, headers
        )
        if status != 200:
            raise ValueError(f"HTTP {status}")
        consumed = json.loads(answer or b"{}").get("alreadyConsumed") is True
    except Exception:
        raise unavailable("consume_failed") from None
    if consumed:
        raise AttestationFailure("attestation_replayed", "consumed")


class AppCheckVerifier:
    name = NAME

    def evidence_keys(self) -> tuple[str, ...]:
        return (gatehouse_settings.APPCHECK_HEADER.lower(),)

    def configured(self, *, api_key: Any) -> bool:
        return bool(app_check_project_number(api_key) and app_check_app_ids(api_key))

    def verify(
        self,
        *,
        api_key: Any,
        evidence: Mapping[str, str],
        purpose: Purpose,
        bound_value: str | None,
        now: datetime.datetime,
    ) -> Attested:
        token = evidence.get(self.evidence_keys()[0], "")
        if not token or len(token) > MAX_EVIDENCE_CHARS:
            raise invalid("malformed")
        project_number, app_ids = app_check_project_number(api_key), app_check_app_ids(api_key)
        if not project_number or not app_ids:
            raise unavailable("not_configured")
        try:
            header = unverified_header(token)
        except ValueError:
            raise invalid("malformed") from None
        if header.get("alg") != ALGORITHM:
            raise invalid("alg_not_allowed")
        if header.get("typ") != "JWT":
            raise invalid("typ_invalid")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid or len(kid) > 256:
            raise invalid("kid_missing")
        try:
            key = jwks_cache.key_for(
                url=gatehouse_settings.APPCHECK_JWKS_URL, kid=kid, now=now.timestamp()
            )
        except LookupError:
            raise unavailable("jwks_unavailable") from None
        if key is None:
            raise invalid("unknown_kid")
        # Claims are checked below, each with its own reason and the injected ``now``.
        claims = signed_claims(token, key, algorithm=ALGORITHM)
        if claims.get("iss") != ISSUER_PREFIX + project_number:
            raise invalid("iss_mismatch")
        audience = claims.get("aud")
        if not isinstance(audience, list) or f"projects/{project_number}" not in audience:
            raise invalid("aud_mismatch")
        expires = numeric_claim(claims, "exp")
        if expires is None:
            raise invalid("exp_missing")
        leeway = float(gatehouse_settings.APPCHECK_LEEWAY)
        if now.timestamp() > expires + leeway:
            raise invalid("expired")
        subject = claims.get("sub")
        if not isinstance(subject, str) or subject not in app_ids:
            raise invalid("app_not_allowed")
        if gatehouse_settings.APPCHECK_CONSUME_URL:
            _consume(token, project_number)
        return Attested(
            verifier=NAME,
            details={"app_id": subject},
            replay_id=token_replay_id(token),
            replay_until=expires + leeway,
        )


app_check_verifier = verifier_register(AppCheckVerifier())
