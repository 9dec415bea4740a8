"""The lookup bench's denial rows, run tiny against real gunicorn workers:
each is refused with its status and code by the bench's own preflight
(which stops the bench otherwise), and every request of a one-second load
is a refusal. No timing is asserted: this proves the rows measure refusals."""

import os

import pytest

from bench.bench_lookup import throughput
from bench.lookup_rows import DENIALS

pytestmark = pytest.mark.server


def test_every_denial_row_is_refused_for_a_whole_run(tmp_path, monkeypatch, capsys):
    # An embedded SQLite file of its own; Redis (a fresh cache prefix) when set.
    monkeypatch.setenv("GATEHOUSE_DATA_DIR", str(tmp_path))
    monkeypatch.setattr("bench.bench_lookup.WORKERS", 1)
    monkeypatch.setattr("bench.bench_lookup.WARMUP", 1)
    figures = throughput(
        "", os.environ.get("REDIS_URL", ""), rounds=1, seconds=1, rows=("protected", *DENIALS)
    )
    assert set(figures) == {"protected", *DENIALS}
    for name in DENIALS:
        row = figures[name]
        assert row.refused
        assert row.loads[0].requests > 0
        assert (row.unexpected, row.socket_errors, row.problems) == (0, 0, []), name
    assert figures["protected"].unexpected == 0
    printed = capsys.readouterr().out
    assert "invalid-key/protected" in printed and "over-budget/protected" in printed
