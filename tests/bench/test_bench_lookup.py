"""bench/bench_lookup.py reads wrk's output right and never hides a failing
row: non-2xx answers and socket errors are counted and the row is marked."""

import pytest

from bench.bench_lookup import ROWS, Row, cpu_ratios, ratios, report
from bench.load import Load, wrk_parse

# wrk 4.1's output, verbatim apart from the figures.
WRK_CLEAN = """Running 10s test @ http://127.0.0.1:40000/api/test/plain-lookup
  2 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    30.12ms    5.20ms  80.00ms   90.00%
    Req/Sec   532.10     40.00   600.00     70.00%
  10642 requests in 10.00s, 2.10MB read
Requests/sec:   1063.85
Transfer/sec:    214.90KB
"""
WRK_ERRORS = """Running 10s test @ http://127.0.0.1:40000/api/v1/persons/lookup
  2 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    30.12ms    5.20ms  80.00ms   90.00%
    Req/Sec   532.10     40.00   600.00     70.00%
  9000 requests in 10.00s, 2.10MB read
  Socket errors: connect 0, read 3, write 1, timeout 2
  Non-2xx or 3xx responses: 120
Requests/sec:    899.91
Transfer/sec:    214.90KB
"""


def test_wrk_output_without_errors():
    assert wrk_parse(WRK_CLEAN) == Load(rps=1063.85, requests=10642, non_2xx=0, socket_errors=0)


def test_wrk_output_with_non_2xx_and_socket_errors():
    load = wrk_parse(WRK_ERRORS)
    assert (load.rps, load.requests, load.non_2xx, load.socket_errors) == (899.91, 9000, 120, 6)
    assert load.errors == 126


def test_anything_but_wrk_output_is_an_error_not_zero_requests():
    with pytest.raises(ValueError):
        wrk_parse("unable to connect to 127.0.0.1:40000 Connection refused")


def _rows(rps: dict[str, list[float]], non_2xx: int = 0) -> dict[str, Row]:
    rows = {}
    for name in ROWS:
        rows[name] = Row(name)
        rows[name].cpu["server"] = 1.0  # CPU seconds over all rounds
        for value in rps[name]:
            errors = non_2xx if name == "stack" else 0
            rows[name].loads.append(Load(rps=value, requests=int(value) * 10, non_2xx=errors,
                                         socket_errors=0))  # fmt: skip
    return rows


def test_ratios_are_of_the_median_rounds():
    rows = _rows(
        {
            "plain": [900, 1000, 5000],
            "floor": [800, 100, 850],
            "protected": [700, 720, 1],
            "stack": [600, 650, 640],
        }  # fmt: skip
    )
    assert ratios(rows) == pytest.approx(
        {"protected/floor": 700 / 800, "protected/plain": 700 / 1000, "protected/stack": 700 / 640}
    )


def test_report_marks_a_row_with_errors_and_says_which_targets_are_not_met():
    rows = _rows({"plain": [1000], "floor": [900], "protected": [500], "stack": [600]}, non_2xx=7)
    lines = report(rows, tool="wrk").splitlines()
    stack = next(line for line in lines if line.startswith("stack"))
    assert "not all 200" in stack
    assert " 7 " in stack
    assert not any("not all 200" in line for line in lines if not line.startswith("stack"))
    assert "protected/floor    0.56   0.56   >= 0.85: NOT met" in lines
    assert "protected/stack    0.83   0.83   > 1.00: NOT met" in lines


def test_cpu_ratios_compare_cpu_per_request_not_totals():
    rows = _rows({"plain": [1000], "floor": [900], "protected": [500], "stack": [600]})
    # 1 CPU second each: over 10,000 plain requests vs 5,000 protected ones.
    rows["stack"].cpu["postgres"] = 1.0  # 2 CPU seconds over 6,000 requests
    assert cpu_ratios(rows) == pytest.approx(
        {"protected/plain": 0.5, "protected/floor": 5000 / 9000, "protected/stack": 5000 / 3000}
    )
