"""The closing line of `make test` / `make test-fast`: what was skipped and why."""

from types import SimpleNamespace

from tests.support.skips import skipped_summary


def _skip(reason: str) -> SimpleNamespace:
    return SimpleNamespace(longrepr=("tests/x.py", 1, f"Skipped: {reason}"))


def test_skips_are_counted_by_what_they_need():
    reports = [_skip("needs Redis (set REDIS_URL)")] * 5 + [
        _skip("needs PostgreSQL (set DATABASE_URL)")
    ] * 20
    assert skipped_summary(reports) == (
        "skipped 25: 20 need PostgreSQL (set DATABASE_URL), 5 need Redis (set REDIS_URL)"
    )


def test_one_skip_keeps_its_reason_as_written_and_expected_failures_are_not_skips():
    xfail = SimpleNamespace(longrepr=("tests/x.py", 2, "Skipped: flaky"), wasxfail="")
    assert skipped_summary([_skip("needs wrk (apt-get install wrk)"), xfail]) == (
        "skipped 1: 1 needs wrk (apt-get install wrk)"
    )


def test_what_the_lane_left_out_is_named():
    line = skipped_summary([], deselected=61, markexpr="not server", ignored=["tests/system"])
    assert line == "skipped 0; deselected 61 (-m 'not server'); tests/system not run (--ignore)"
