"""Fixtures for the sign-up API: an authenticated caller and request helpers."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
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


@pytest.fixture
def signup_settings(settings: Any) -> Callable[..., None]:
    """Override GATEHOUSE entries for one test: ``signup_settings(SIGNUP_X=...)``."""

    def override(**values: Any) -> None:
        settings.GATEHOUSE = {**settings.GATEHOUSE, **values}

    return override


@pytest.fixture
def make_caller(
    make_api_key: Callable[..., Any], make_session: Callable[..., Any]
) -> Callable[..., SignupCaller]:
    """A new caller; ``api_key=(key, raw)`` reuses a key, ``remote_addr`` sets the client IP."""

    def factory(
        *,
        api_key: tuple[ApiKey, str] | None = None,
        remote_addr: str = "203.0.113.7",
        **key_fields: Any,
    ) -> SignupCaller:
        key, raw = api_key or make_api_key(**key_fields)
        return SignupCaller(
            client=APIClient(),
            api_key=key,
            raw_key=raw,
            issued=make_session(key, client_ip=remote_addr),
            remote_addr=remote_addr,
        )

    return factory


@pytest.fixture
def caller(make_caller: Callable[..., SignupCaller]) -> SignupCaller:
    return make_caller()


@pytest.fixture
def generous_limits(signup_settings: Callable[..., None]) -> None:
    """Limits out of the way, for tests about something else."""
    signup_settings(
        SIGNUP_LOOKUPS_PER_SESSION=1000,
        SIGNUP_LOOKUP_IDENTIFIER_RATE="1000/h",
        SIGNUP_LOOKUP_DISTINCT_PER_IP_RATE="1000/h",
        SIGNUP_LOOKUP_DISTINCT_PER_KEY_RATE="1000/h",
        SIGNUP_CREATES_PER_SESSION=1000,
        SIGNUP_CREATE_IP_RATE="1000/d",
        RATE_LIMITS={},  # the endpoint throttles too
    )


def person_body(**fields: Any) -> dict[str, Any]:
    return {"email": "ada@example.com", "full_name": "Ada Lovelace", **fields}
