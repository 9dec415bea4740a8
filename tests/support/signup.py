"""Calling the sign-up API as a client with a key and a session would, and
the request body a test starts from."""

from dataclasses import dataclass
from typing import Any

from rest_framework.test import APIClient

from protection.keys import ApiKey
from protection.sessions import IssuedSession


@dataclass
class SignupCaller:
    """An API key, one of its sessions and the test client, ready to call the API."""

    client: APIClient
    api_key: ApiKey
    raw_key: str
    issued: IssuedSession
    remote_addr: str = "203.0.113.7"

    def headers(self, **extra: str) -> dict[str, str]:
        return {
            "HTTP_X_API_KEY": self.raw_key,
            "HTTP_AUTHORIZATION": f"Bearer {self.issued.access}",
            "REMOTE_ADDR": self.remote_addr,
            **extra,
        }

    def lookup(self, body: Any, **extra: str) -> Any:
        return self.client.post(
            "/api/v1/persons/lookup", body, format="json", **self.headers(**extra)
        )

    def create(self, body: Any, *, idempotency_key: str | None = None, **extra: str) -> Any:
        if idempotency_key is not None:
            extra["HTTP_IDEMPOTENCY_KEY"] = idempotency_key
        return self.client.post("/api/v1/persons", body, format="json", **self.headers(**extra))

    def confirm(self, body: Any, *, idempotency_key: str | None = None, **extra: str) -> Any:
        if idempotency_key is not None:
            extra["HTTP_IDEMPOTENCY_KEY"] = idempotency_key
        return self.client.post(
            "/api/v1/persons/confirm", body, format="json", **self.headers(**extra)
        )


def person_body(**fields: Any) -> dict[str, Any]:
    return {"email": "ada@example.com", "full_name": "Ada Lovelace", **fields}
