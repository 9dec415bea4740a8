"""The proof-of-work solve time a client reports in its ALTCHA payload: read, never trusted."""

import base64
import json
from typing import Any

import pytest

from protection.challenges.pow import pow_solve_time


def _payload(document: Any) -> str:
    return base64.b64encode(json.dumps(document).encode()).decode()


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (_payload({"challenge": {}, "solution": {"counter": 1, "time": 1234.9}}), 1234),
        (_payload({"challenge": {}, "solution": {"counter": 1, "time": 0}}), 0),
        (_payload({"challenge": {}, "solution": {"counter": 1}}), None),
        (_payload({"algorithm": "SHA-256", "took": 87}), 87),  # ALTCHA v1's name
        (_payload({"solution": {"time": -5}}), None),
        (_payload({"solution": {"time": 10**12}}), None),
        (_payload({"solution": {"time": True}}), None),
        (_payload({"solution": {"time": "fast"}}), None),
        (_payload([1, 2]), None),
        ("not base64!", None),
        ("", None),
        (None, None),
        ("A" * 5000, None),
    ],
)
def test_pow_solve_time(payload: Any, expected: int | None) -> None:
    assert pow_solve_time(payload) == expected


def test_nan_and_infinity_are_not_times() -> None:
    raw = '{"solution": {"time": NaN}}'
    assert pow_solve_time(base64.b64encode(raw.encode()).decode()) is None
    raw = '{"solution": {"time": 1e999}}'
    assert pow_solve_time(base64.b64encode(raw.encode()).decode()) is None
