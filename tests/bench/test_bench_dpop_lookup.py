"""bench/bench_dpop_lookup.py: every request gets a header value of its own
(a DPoP proof may be sent once), reuse is counted and marked as an error,
and the ratio is dpop/bearer."""

import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bench.bench_dpop_lookup import ratio_lines
from bench.bench_lookup import Row, rows_table
from bench.load import Load, load_run, values_reused
from tests.support.tools import tool_required

WRK_WITH_REUSE = """Running 1s test @ http://127.0.0.1:40000/api/v1/persons/lookup
  2 threads and 4 connections
  120 requests in 1.00s, 20.10KB read
Requests/sec:    119.91
Transfer/sec:    20.10KB
Header values reused: 20
"""


def test_wrk_output_says_how_many_values_were_reused():
    assert values_reused(WRK_WITH_REUSE) == 20
    assert values_reused("Requests/sec: 1.0") == 0


class _Recorder(BaseHTTPRequestHandler):
    seen: Counter

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.seen[self.headers.get("DPoP")] += 1
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def recorder():
    handler = type("Recorder", (_Recorder,), {"seen": Counter()})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], handler.seen
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("values", [100_000, 7])
def test_wrk_sends_each_value_once_until_the_file_runs_out(recorder, tmp_path, values):
    tool_required("wrk", package="wrk")
    port, seen = recorder
    file = tmp_path / "proofs.txt"
    file.write_text("".join(f"proof-{n}\n" for n in range(values)))
    load = load_run(
        port,
        "/lookup",
        body={"email": "x@example.com"},
        headers={"Authorization": "DPoP token"},
        seconds=1,
        connections=4,
        header_files={"DPoP": str(file)},
    )
    assert None not in seen  # every request carried a value
    assert set(seen) <= {f"proof-{n}" for n in range(values)}
    assert sum(seen.values()) >= load.requests > 0
    repeats = sum(count - 1 for count in seen.values())
    if values > load.requests:
        assert load.values_reused == repeats == 0
    else:
        # Requests cut short at the end are counted by the Lua script but not by wrk.
        assert load.values_reused >= repeats > 0
        assert len(seen) == values


def _row(name: str, rps: float, server_cpu: float, reused: int = 0) -> Row:
    row = Row(name)
    row.cpu["server"] = server_cpu
    row.cpu["load"] = 1.0
    row.loads.append(
        Load(rps=rps, requests=int(rps) * 10, non_2xx=0, socket_errors=0, values_reused=reused)
    )
    return row


def test_a_row_that_reused_proofs_is_marked():
    rows = {"bearer": _row("bearer", 300, 3.0), "dpop": _row("dpop", 250, 3.0, reused=5)}
    lines = rows_table(rows, tool="wrk")
    assert "not all 200" in next(line for line in lines if line.startswith("dpop"))
    assert "not all 200" not in next(line for line in lines if line.startswith("bearer"))


def test_ratio_is_dpop_over_bearer_with_and_without_the_load_generator():
    # 3,000 bearer requests on 3 s of server CPU, 2,500 dpop ones on 3 s; 1 s of wrk each.
    rows = {"bearer": _row("bearer", 300, 3.0), "dpop": _row("dpop", 250, 3.0)}
    lines = ratio_lines(rows)
    # r/s 250/300; CPU (4/3000)/(4/2500) all in; (3/3000)/(3/2500) server side.
    assert lines[1].split() == ["dpop/bearer", "0.83", "0.83", "0.83"]
    assert "+0.20 ms" in lines[3]


def test_the_python_fallback_sends_each_value_once_too(recorder, tmp_path, monkeypatch):
    port, seen = recorder
    monkeypatch.setattr("bench.load.load_tool", lambda: "python")
    file = tmp_path / "proofs.txt"
    file.write_text("".join(f"proof-{n}\n" for n in range(100_000)))
    load = load_run(
        port,
        "/lookup",
        body={},
        headers={},
        seconds=1,
        connections=2,
        header_files={"DPoP": str(file)},
    )
    assert load.requests == sum(seen.values()) > 0
    assert max(seen.values()) == 1 and None not in seen
    assert load.values_reused == 0
