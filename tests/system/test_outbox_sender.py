"""``outbox_send --loop`` as a process manager runs it: sends what arrives (here
through Django's file mail backend) and exits cleanly on SIGTERM."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from protection.core.outbox import OutboxMessage
from signup.notifications import signup_attempt_notice_mail_enqueue
from tests.support.servers import database_url

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.server, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_the_loop_sends_what_arrives_and_stops_on_sigterm(tmp_path):
    mail_dir = tmp_path / "mail"
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "DJANGO_EMAIL_BACKEND": "file",
        "DJANGO_EMAIL_FILE_PATH": str(mail_dir),
        "GATEHOUSE_LOG_FORMAT": "text",
    }
    sender = subprocess.Popen(
        [sys.executable, "manage.py", "outbox_send", "--loop", "--interval", "0.2"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        message = signup_attempt_notice_mail_enqueue(email="owner@example.com")
        deadline = time.monotonic() + 30
        while not (mail_dir.exists() and any(mail_dir.iterdir())):
            assert sender.poll() is None, sender.stdout.read()
            assert time.monotonic() < deadline, "nothing was sent"
            time.sleep(0.1)
        sender.send_signal(signal.SIGTERM)
        output, _ = sender.communicate(timeout=30)
    finally:
        if sender.poll() is None:
            sender.kill()
    assert sender.returncode == 0, output
    assert "outbox sender stopped: sent 1, retried later 0, gave up 0" in output
    [written] = list(mail_dir.iterdir())
    assert "To: owner@example.com" in written.read_text()
    message.refresh_from_db()
    assert message.status == OutboxMessage.Status.SENT
