"""A client's sign-up through the HTTP API, for tests of what a create remembers:
a challenge solved (with the solve time the client reports), an Approov token
minted with the test's account secret, a session, then a create."""

import base64
import datetime
import hashlib
import json
import secrets
from dataclasses import dataclass
from typing import Any

import altcha
import jwt


def altcha_payload(challenge: dict[str, Any], *, took_ms: float | None = None) -> str:
    """Solve an ALTCHA v2 challenge; ``took_ms`` replaces the solve time it reports."""
    parsed = altcha.Challenge.from_dict(challenge)
    solution = altcha.solve_challenge(parsed, timeout=60)
    assert solution is not None
    if took_ms is not None:
        solution.time = took_ms
    return altcha.Payload(parsed, solution).to_base64()


def approov_token(secret: bytes, *, raw_key: str, device: str, lifetime: int = 300) -> str:
    """An Approov token for ``device``, bound (``pay``) to the API key, as at session start."""
    claims = {
        "exp": int(datetime.datetime.now(tz=datetime.UTC).timestamp()) + lifetime,
        "jti": secrets.token_hex(8),  # every token its own, as Approov mints them
        "did": device,
        "pay": base64.b64encode(hashlib.sha256(raw_key.encode()).digest()).decode(),
    }
    return jwt.encode(claims, secret, algorithm="HS256")


@dataclass
class ApiSession:
    raw_key: str
    session_id: str
    access: str
    remote_addr: str

    def headers(self, **extra: str) -> dict[str, str]:
        return {
            "HTTP_X_API_KEY": self.raw_key,
            "HTTP_AUTHORIZATION": f"Bearer {self.access}",
            "REMOTE_ADDR": self.remote_addr,
            **extra,
        }


def api_session(
    client: Any,
    raw_key: str,
    *,
    remote_addr: str = "203.0.113.7",
    pow_took_ms: float | None = None,
    device_id: str = "",
    headers: dict[str, str] | None = None,
) -> ApiSession:
    """Start a session as a client does (solving the key's challenge when it asks one)."""
    meta = {"HTTP_X_API_KEY": raw_key, "REMOTE_ADDR": remote_addr, **(headers or {})}
    challenge = client.post("/api/v1/challenges", **meta)
    assert challenge.status_code == 201, challenge.content
    body: dict[str, Any] = {"device_id": device_id} if device_id else {}
    if "pow" in challenge.json()["requires"]:
        body["altcha"] = altcha_payload(challenge.json()["altcha"], took_ms=pow_took_ms)
    started = client.post("/api/v1/sessions", body, format="json", **meta)
    assert started.status_code == 201, started.content
    tokens = json.loads(started.content)
    return ApiSession(raw_key, tokens["session_id"], tokens["access"], remote_addr)


def api_create(client: Any, session: ApiSession, body: dict[str, Any], **extra: str) -> Any:
    return client.post("/api/v1/persons", body, format="json", **session.headers(**extra))


def api_lookup(client: Any, session: ApiSession, email: str = "probe@example.com") -> Any:
    return client.post(
        "/api/v1/persons/lookup", {"email": email}, format="json", **session.headers()
    )
