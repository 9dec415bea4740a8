"""The lookup bench's denial rows measure refusals, and say so when they are
not: a forged token differs from a real one only in its signature, an
answer is checked for its status and code, a denial row answered 200 is
marked, and the issue-17 ratios are printed against their targets."""

import json

import jwt
import pytest

from bench.bench_lookup import Row, ratios, report, rows_table
from bench.load import Load
from bench.lookup_rows import answer_problem, key_unknown, token_forge
from protection.base.crypto import parse_raw_key

SIGNING_KEY = "the-servers-signing-key-" + "x" * 40


def test_a_forged_token_keeps_header_and_claims_but_fails_the_real_key():
    real = jwt.encode({"sid": "s1", "exp": 4_000_000_000}, SIGNING_KEY, algorithm="HS256")
    forged = token_forge(real)
    assert forged.split(".")[:2] == real.split(".")[:2]
    assert forged != real
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(forged, SIGNING_KEY, algorithms=["HS256"])


def test_the_unknown_key_is_well_formed_and_new_each_time():
    first, second = key_unknown(), key_unknown()
    assert parse_raw_key(first) is not None
    assert first != second


def _problem(code: str) -> bytes:
    return json.dumps({"status": 401, "code": code}).encode()


def test_an_answer_must_have_the_rows_status_and_code():
    assert answer_problem(200, b'{"exists": false}', expected=200, code="") is None
    ok = answer_problem(401, _problem("api_key_invalid"), expected=401, code="api_key_invalid")
    assert ok is None
    other = answer_problem(401, _problem("token_invalid"), expected=401, code="api_key_invalid")
    assert "not 401 api_key_invalid" in other
    served = answer_problem(200, b'{"exists": false}', expected=403, code="blocked")
    assert served.startswith("answered 200")
    assert answer_problem(502, b"<html>", expected=429, code="rate_limited") is not None


def _row(name: str, rps: float, *, refused: bool = False, non_2xx: int | None = None) -> Row:
    row = Row(name, refused=refused)
    row.cpu["server"] = 1.0
    requests = int(rps) * 10
    answered = (requests if refused else 0) if non_2xx is None else non_2xx
    row.loads.append(Load(rps=rps, requests=requests, non_2xx=answered, socket_errors=0))
    return row


def test_a_denial_row_is_marked_when_some_answers_were_not_refusals():
    rows = {
        "protected": _row("protected", 300),
        "blocked-ip": _row("blocked-ip", 900, refused=True),
        "invalid-key": _row("invalid-key", 600, refused=True, non_2xx=5990),
    }
    lines = rows_table(rows, tool="wrk")
    blocked = next(line for line in lines if line.startswith("blocked-ip"))
    invalid = next(line for line in lines if line.startswith("invalid-key"))
    assert "<- errors" not in blocked
    assert "not all refused" in invalid
    assert " 10 " in invalid  # 6,000 requests, 5,990 refused


def test_denial_and_before_ratios_are_against_the_protected_lookup():
    rows = {
        "protected": _row("protected", 300),
        "protected@before": _row("protected@before", 310),
        "invalid-key": _row("invalid-key", 600, refused=True),
        "forged-token": _row("forged-token", 330, refused=True),
        "forged-token@before": _row("forged-token@before", 320, refused=True),
    }
    assert ratios(rows) == pytest.approx(
        {
            "invalid-key/protected": 2.0,
            "forged-token/protected": 1.1,
            "protected/protected@before": 300 / 310,
            "forged-token@before/protected@before": 320 / 310,
        }
    )
    lines = report(rows, tool="wrk").splitlines()
    line = next(line for line in lines if line.startswith("forged-token/protected"))
    assert line.endswith(">= 1.50: NOT met")
    line = next(line for line in lines if line.startswith("protected/protected@before"))
    assert line.endswith(">= 0.95: met")
