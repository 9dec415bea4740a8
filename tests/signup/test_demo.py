"""The demo sign-up page at / and its in-browser ALTCHA solver (run in Node when present)."""

import base64
import json
import re
import shutil
import subprocess
from io import StringIO
from pathlib import Path

import pytest
from altcha import (
    ChallengeOptionsV1,
    create_challenge,
    create_challenge_v1,
    verify_solution,
    verify_solution_v1,
)
from django.core.management import call_command

from protection.keys import api_key_verify

pytestmark = pytest.mark.django_db

SOLVER = Path(__file__).resolve().parents[2] / "templates" / "signup" / "altcha_solver.js"
NODE = shutil.which("node")
needs_node = pytest.mark.skipif(NODE is None, reason="needs Node.js to run the page's solver")


def test_page_is_served_self_contained(client):
    response = client.get("/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    page = response.content.decode()
    assert 'id="api-key"' in page
    for endpoint in ("/api/v1/challenges", "/api/v1/sessions", "/api/v1/persons/lookup"):
        assert endpoint in page
    assert '"/api/v1/persons"' in page
    assert "Idempotency-Key" in page
    # No CDN, no external asset: every src/href is local.
    assert not re.findall(r'(?:src|href)="(?:https?:)?//', page)
    assert SOLVER.read_text() in page  # the tested solver is the one the page runs


def test_page_only_answers_get(client):
    assert client.post("/").status_code == 405


def test_quickstart_key_can_do_everything_the_page_does(settings):
    settings.DEBUG = True  # quickstart is a development command
    out = StringIO()
    call_command("quickstart", stdout=out)
    raw_key = out.getvalue().strip().splitlines()[-1]
    key = api_key_verify(raw_key=raw_key, origin="http://127.0.0.1:8000")
    assert {"session", "lookup", "create"} <= set(key.scopes)
    assert key.required_verifications == ["pow"]


def _solve_in_node(challenge: dict) -> str:
    script = SOLVER.read_text() + (
        "\naltchaSolve(JSON.parse(process.argv[1]))"
        ".then((p) => console.log(p), (e) => { console.error(e.message); process.exit(3); });"
    )
    result = subprocess.run(
        [NODE, "-e", script, json.dumps(challenge)], capture_output=True, text=True, timeout=60
    )
    if result.returncode != 0:
        raise RuntimeError(result.stderr.strip())
    return result.stdout.strip()


@needs_node
@pytest.mark.parametrize(
    ("algorithm", "cost"),
    [
        ("SHA-256", 1),
        ("SHA-256", 5),
        ("SHA-512", 2),
        ("PBKDF2/SHA-256", 100),
        ("PBKDF2/SHA-512", 20),
    ],
)
def test_solver_solves_v2_challenges_the_server_accepts(algorithm, cost):
    challenge = create_challenge(
        algorithm, cost, key_prefix="0", hmac_secret="secret", data={"kid": "ü"}
    )
    payload = _solve_in_node(challenge.to_dict())
    assert verify_solution(payload, "secret").verified
    assert not verify_solution(payload, "other secret").verified


@needs_node
def test_solver_solves_v1_challenges():
    challenge = create_challenge_v1(ChallengeOptionsV1(hmac_key="secret", max_number=3000))
    payload = _solve_in_node(challenge.to_dict())
    assert verify_solution_v1(payload, "secret")[0] is True


@needs_node
@pytest.mark.parametrize("algorithm", ["ARGON2ID", "SCRYPT"])
def test_solver_says_clearly_what_webcrypto_cannot_do(algorithm):
    challenge = {
        "parameters": {"algorithm": algorithm, "nonce": "00" * 16, "salt": "00" * 16, "cost": 1},
        "signature": "x",
    }
    with pytest.raises(RuntimeError, match="not available in WebCrypto"):
        _solve_in_node(challenge)


@needs_node
def test_solver_finds_the_counter_of_a_deterministic_challenge():
    # The shape protection's challenge endpoint issues: the server picks the
    # counter, the prefix is half the derived key, the key is HMAC-signed.
    challenge = create_challenge(
        "SHA-256",
        1,
        counter=2500,
        hmac_secret="secret",
        hmac_key_secret="key-secret",
        expires_at=4102444800,
        data={"kid": "abc", "maxNumber": 3000},
    )
    payload = _solve_in_node(challenge.to_dict())
    assert verify_solution(payload, "secret", hmac_key_secret="key-secret").verified
    assert json.loads(base64.b64decode(payload))["solution"]["counter"] == 2500
