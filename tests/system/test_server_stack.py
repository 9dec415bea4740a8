"""The bench's "stack" row (``tests/support/server_stack.py``) keeps its promises when
served by gunicorn: no API key or a revoked one is 403, no token or a forged
one is 401, and its throttles refuse per token subject and per client IP.
Without this, the bench could be comparing gatehouse with a stack that
checks nothing and calling it faster."""

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator

import jwt
import pytest

from tests.support.gunicorn import ROOT, GunicornServer, request, server_env

pytestmark = pytest.mark.server

PATH = "/api/test/stack-lookup"
BODY = {"email": "Nobody@Example.com"}

# Prints a djangorestframework-api-key key, a revoked one and simplejwt access
# tokens for subjects "a" and "b", minted as the bench mints them.
CREDENTIALS = """
import json
from rest_framework_api_key.models import APIKey
from rest_framework_simplejwt.tokens import AccessToken

def token(subject):
    access = AccessToken()
    access["user_id"] = subject
    return str(access)

_, key = APIKey.objects.create_key(name="stack test")
_, revoked = APIKey.objects.create_key(name="stack test revoked", revoked=True)
print(json.dumps({"key": key, "revoked": revoked, "a": token("a"), "b": token("b")}))
"""


@pytest.fixture(scope="module")
def stack_env(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, str], dict[str, str]]:
    """Server environment on a fresh SQLite file (Redis when REDIS_URL is set), and credentials."""
    env = server_env(
        database_url="",
        redis_url=os.environ.get("REDIS_URL", ""),
        cache_prefix=f"gh-test-{uuid.uuid4().hex[:12]}",
    )
    env["GATEHOUSE_DATA_DIR"] = str(tmp_path_factory.mktemp("stack"))
    manage = [sys.executable, str(ROOT / "manage.py")]
    full_env = {**os.environ, **env}
    subprocess.run(
        [*manage, "migrate", "--no-input", "-v", "0"], env=full_env, check=True, cwd=ROOT
    )
    created = subprocess.run(
        [*manage, "shell", "-c", CREDENTIALS],
        env=full_env, check=True, cwd=ROOT, capture_output=True, text=True,
    )  # fmt: skip
    return env, json.loads(created.stdout.strip().splitlines()[-1])


def _serve(env: dict[str, str], **rates: str) -> GunicornServer:
    # One worker: on the local-memory cache (no REDIS_URL) counters are per process.
    return GunicornServer(env={**env, "GATEHOUSE_TEST_STACK_RATES": json.dumps(rates)}, workers=1)


@pytest.fixture(scope="module")
def port(stack_env: tuple[dict[str, str], dict[str, str]]) -> Iterator[int]:
    with _serve(stack_env[0]) as server:
        yield server.port


def _post(port: int, *, key: str | None, token: str | None) -> tuple[int, dict]:
    headers = {}
    if key is not None:
        headers["X-Api-Key"] = key
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    status, payload = request(port, "POST", PATH, BODY, headers)
    return status, json.loads(payload)


def test_key_and_token_get_the_lookup_answer(port, stack_env):
    credentials = stack_env[1]
    assert _post(port, key=credentials["key"], token=credentials["a"]) == (200, {"exists": False})


@pytest.mark.parametrize("key", [None, "abcdefgh.not-the-secret", "revoked"])
def test_a_missing_wrong_or_revoked_api_key_is_403(port, stack_env, key):
    credentials = stack_env[1]
    status, problem = _post(port, key=credentials.get(key, key), token=credentials["a"])
    assert status == 403
    assert problem["status"] == 403


def test_a_missing_token_is_401(port, stack_env):
    status, problem = _post(port, key=stack_env[1]["key"], token=None)
    assert (status, problem["status"]) == (401, 401)


def test_a_token_signed_with_another_key_is_401(port, stack_env):
    forged = jwt.encode(
        {"token_type": "access", "exp": int(time.time()) + 300, "jti": "x", "user_id": "a"},
        "not-the-server-secret-" + "z" * 20,
        algorithm="HS256",
    )
    status, _problem = _post(port, key=stack_env[1]["key"], token=forged)
    assert status == 401


def test_throttles_count_per_subject_and_per_ip(stack_env):
    env, credentials = stack_env
    key = credentials["key"]
    # Counters of its own: the module's other tests spent some of subject a's.
    env = {**env, "GATEHOUSE_CACHE_PREFIX": f"gh-test-{uuid.uuid4().hex[:12]}"}
    with _serve(env, stack_ip="5/m", stack_subject="2/m") as server:
        subject_a = [_post(server.port, key=key, token=credentials["a"])[0] for _ in range(3)]
        # "b" is a new subject (2 more admitted), but the IP has now spent its 5.
        subject_b = [_post(server.port, key=key, token=credentials["b"])[0] for _ in range(3)]
    assert subject_a == [200, 200, 429]
    assert subject_b == [200, 200, 429]
