"""``make run`` for real: the server and the outbox sender start together, a queued
mail is sent (printed by the console backend), and Ctrl-C stops both."""

import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [
    pytest.mark.server,
    pytest.mark.skipif(shutil.which("make") is None, reason="needs make"),
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _alive(group: int) -> list[str]:
    """Processes of the group that still run (zombies awaiting their reaper excluded)."""
    listing = subprocess.run(
        ["ps", "-o", "stat=,args=", "-g", str(group)], capture_output=True, text=True
    ).stdout
    return [line for line in listing.splitlines() if line.strip() and not line.startswith("Z")]


def test_make_run_serves_sends_and_stops_both_on_ctrl_c(tmp_path):
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(GATEHOUSE_DATA_DIR=str(tmp_path), DJANGO_LOG_LEVEL="WARNING")
    log = tmp_path / "make-run.log"
    with open(log, "w") as output:
        make = subprocess.Popen(
            ["make", "run", f"PORT={port}"],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: the terminal's Ctrl-C goes to it
            # A terminal's foreground job takes SIGINT; pytest's runner may ignore it.
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
    try:
        deadline = time.monotonic() + 120
        while True:
            assert make.poll() is None, log.read_text()[-2000:]
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/health", timeout=1)
                break
            except OSError:
                assert time.monotonic() < deadline, "make run did not serve in 120 s"
                time.sleep(0.5)
        queue = (
            "from signup.notifications import signup_attempt_notice_mail_enqueue as queue; "
            "queue(email='ada@example.com')"
        )
        subprocess.run(
            [str(ROOT / ".venv/bin/python"), "manage.py", "shell", "-c", queue],
            cwd=ROOT,
            env={**env, "DJANGO_DEBUG": "1"},
            check=True,
            capture_output=True,
        )
        deadline = time.monotonic() + 30
        while "Subject: Someone tried to sign up" not in log.read_text():
            assert time.monotonic() < deadline, "the sender did not send the mail"
            time.sleep(0.2)
        os.killpg(make.pid, signal.SIGINT)
        make.wait(30)
        deadline = time.monotonic() + 10
        while _alive(make.pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _alive(make.pid) == []
        assert "outbox sender stopped: sent 1" in log.read_text()
    finally:
        if make.poll() is None or _alive(make.pid):
            os.killpg(make.pid, signal.SIGKILL)
