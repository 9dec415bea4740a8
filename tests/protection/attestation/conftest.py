"""Approov fixtures for this package: a random account secret and a key requiring Approov."""

import os

import pytest

from tests.support.attestation import b64url


@pytest.fixture
def secret(settings) -> bytes:
    value = os.urandom(32)
    settings.GATEHOUSE = {**settings.GATEHOUSE, "APPROOV_SECRET": b64url(value)}
    return value


@pytest.fixture
def key(make_api_key, secret):
    api_key, _ = make_api_key(required_verifications=["approov"])
    return api_key
