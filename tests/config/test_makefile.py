"""The Makefile's quickstart targets, as make would run them (``make -n``)."""

import os
import subprocess

import pytest

from tests.support.paths import ROOT
from tests.support.tools import tool_required


@pytest.fixture(autouse=True)
def _make() -> None:
    tool_required("make", package="make")


def planned(*args: str) -> list[str]:
    # -B: plan every step, as on a fresh checkout. Without the caller's own
    # GATEHOUSE_PUBLIC_BASE_URL, which `make run` would keep.
    env = {k: v for k, v in os.environ.items() if k != "GATEHOUSE_PUBLIC_BASE_URL"}
    result = subprocess.run(
        ["make", "--no-print-directory", "-n", "-B", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    return result.stdout.splitlines()


def test_run_uses_the_port_everywhere_and_checks_it_before_changing_anything():
    steps = [line for line in planned("run", "PORT=8123") if "manage.py" in line]
    assert "quickstart --port 8123" in steps[0]  # the port check comes first
    assert steps[-1].endswith("runserver 127.0.0.1:8123")
    assert not any("8000" in line for line in steps)


def test_run_tells_the_server_its_origin_so_the_page_can_use_dpop():
    steps = [line for line in planned("run", "PORT=8123") if "manage.py" in line]
    assert len(steps) == 3
    assert all("GATEHOUSE_PUBLIC_BASE_URL=http://127.0.0.1:8123 " in line for line in steps)


def test_run_starts_the_outbox_sender_beside_the_server_and_stops_it_with_it():
    plan = planned("run", "PORT=8123")
    sender = next(line for line in plan if "outbox_send" in line)
    assert "outbox_send --loop" in sender and sender.rstrip("\\ ").endswith("sender=$!;")
    assert "DJANGO_DEBUG=1 " in sender
    assert any(line.strip().startswith("trap 'kill $sender") for line in plan)


def test_run_defaults_to_port_8000():
    steps = [line for line in planned("run") if "manage.py" in line]
    assert steps[-1].endswith("runserver 127.0.0.1:8000")


def test_install_installs_only_production_dependencies():
    installs = [line for line in planned("install") if "pip install" in line]
    assert any(line.rstrip().endswith("-e .") for line in installs)
    assert not any("[test]" in line for line in installs)


def test_test_installs_the_test_extras():
    assert any("'.[test]'" in line for line in planned("test"))


def test_test_type_checks_next_to_the_linters():
    steps = planned("test")
    checks = [line for line in steps if any(t in line for t in ("lint-imports", "ruff", "mypy"))]
    assert any(line.endswith("/mypy") for line in checks), steps
    pytest_at = next(i for i, line in enumerate(steps) if "-m pytest" in line)
    assert all(steps.index(line) < pytest_at for line in checks)


def test_docs_serves_with_the_test_extras_beside_make_run():
    steps = planned("docs")
    assert any("'.[test]'" in line for line in steps)
    assert steps[-1].endswith("mkdocs serve --dev-addr 127.0.0.1:8001")  # make run has 8000


def test_docs_takes_a_port():
    assert planned("docs", "PORT=8123")[-1].endswith("mkdocs serve --dev-addr 127.0.0.1:8123")


def test_run_logs_one_text_format_on_the_terminal():
    steps = [line for line in planned("run") if "manage.py" in line]
    assert all("GATEHOUSE_LOG_FORMAT=text " in line for line in steps)
