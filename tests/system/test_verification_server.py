"""Contact verification end to end (issue 19): gunicorn, PostgreSQL, Redis, and
the outbox sender (``outbox_send --loop``) writing through the file backends.

Each test starts a server in the verification mode it needs (the mode from
``GATEHOUSE_SIGNUP_VERIFY``, short times from ``GATEHOUSE_TEST_SETTINGS``)
and a sender beside it, then acts as a client and as the person reading
their mail or SMS: codes are read from the files the backends wrote.
"""

import email
import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from protection.blocks import BlockedClient
from protection.keys import api_key_create
from protection.sessions import session_issue
from signup.models import Person
from tests.support.gunicorn import GunicornServer, server_env
from tests.support.paths import ROOT
from tests.support.servers import database_url
from tests.support.verification import sms_file_lines

pytestmark = [
    pytest.mark.server,
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True),
]

# The endpoint groups out of the way (one client address sends everything);
# the sign-up and SMS limits under test keep their defaults unless a test says.
NO_GROUP_LIMITS = {"create": {}, "confirm": {}, "lookup": {}}


class Stack:
    """A server and its sender, and the files they write."""

    def __init__(self, port: int, mail_dir: Path, sms_file: Path, raw_key: str, api_key: Any):
        self.port, self.mail_dir, self.sms_file = port, mail_dir, sms_file
        self.raw_key, self.api_key = raw_key, api_key

    def session(self) -> dict[str, str]:
        access = session_issue(api_key=self.api_key, client_ip="127.0.0.1").access
        return {"X-Api-Key": self.raw_key, "Authorization": f"Bearer {access}"}

    def post(self, path: str, body: dict, headers: dict[str, str]) -> tuple[int, bytes, dict]:
        import http.client

        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            connection.request(
                "POST", path, json.dumps(body), {"Content-Type": "application/json", **headers}
            )
            response = connection.getresponse()
            return response.status, response.read(), dict(response.getheaders())
        finally:
            connection.close()

    def create(self, body: dict, headers: dict[str, str]) -> tuple[int, bytes, dict]:
        return self.post("/api/v1/persons", body, headers)

    def confirm(self, body: dict, headers: dict[str, str]) -> tuple[int, str]:
        status, raw, _ = self.post("/api/v1/persons/confirm", body, headers)
        return status, json.loads(raw).get("code", "") if status >= 400 else ""

    def mails(self) -> list[email.message.Message]:
        """Every mail the file backend wrote (one file per connection, mails
        separated by a line of dashes)."""
        found = []
        for path in sorted(self.mail_dir.glob("*.log")) if self.mail_dir.exists() else []:
            for chunk in path.read_text().split("-" * 79):
                if chunk.strip():
                    found.append(email.message_from_string(chunk.strip()))
        return found

    def mails_to(self, address: str) -> list[email.message.Message]:
        return [mail for mail in self.mails() if mail["To"] == address]

    def wait_for(self, count: Callable[[], int], expected: int, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while count() < expected:
            assert time.monotonic() < deadline, f"only {count()} of {expected} arrived"
            time.sleep(0.1)

    def mailed_code(self, address: str, nth: int = 1) -> str:
        """The code of the ``nth`` code mail to ``address`` (waits for the sender)."""
        self.wait_for(lambda: len(self._code_mails(address)), nth)
        subject = self._code_mails(address)[nth - 1]["Subject"]
        return re.match(r"(\d{6}) is your", subject).group(1)

    def _code_mails(self, address: str) -> list[email.message.Message]:
        return [m for m in self.mails_to(address) if re.match(r"\d{6} is your", m["Subject"])]

    def texted_code(self, phone: str) -> str:
        self.wait_for(lambda: len(self._texts(phone)), 1)
        return re.match(r"(\d{6}) is your", self._texts(phone)[-1]).group(1)

    def _texts(self, phone: str) -> list[str]:
        return [line["body"] for line in sms_file_lines(self.sms_file) if line["to"] == phone]


@pytest.fixture
def start_stack(
    transactional_db: Any, settings: Any, tmp_path: Path
) -> Iterator[Callable[..., Stack]]:
    running: list[tuple[GunicornServer, subprocess.Popen]] = []

    def start(*, verify: str, overrides: dict[str, Any] | None = None, env: dict | None = None):
        mail_dir, sms_file = (
            tmp_path / f"mail-{len(running)}",
            tmp_path / f"sms-{len(running)}.jsonl",
        )
        environment = server_env(
            database_url=database_url(),
            redis_url=os.environ["REDIS_URL"],
            cache_prefix=f"gh-verify-{uuid.uuid4().hex[:8]}",
        )
        environment.update(
            {
                "GATEHOUSE_SIGNUP_VERIFY": verify,
                "DJANGO_EMAIL_BACKEND": "file",
                "DJANGO_EMAIL_FILE_PATH": str(mail_dir),
                "GATEHOUSE_SMS_BACKEND": "file",
                "GATEHOUSE_SMS_FILE_PATH": str(sms_file),
                "GATEHOUSE_TEST_RATE_LIMITS": json.dumps(NO_GROUP_LIMITS),
                "GATEHOUSE_TEST_SETTINGS": json.dumps(
                    {"SIGNUP_CONFIRM_URL": "https://signup.example/confirm", **(overrides or {})}
                ),
                "GATEHOUSE_LOG_FORMAT": "text",
                **(env or {}),
            }
        )
        # Keys and tokens made here must verify on the server.
        settings.GATEHOUSE = {
            **settings.GATEHOUSE,
            "SIGNING_KEY": environment["GATEHOUSE_SIGNING_KEY"],
        }
        server = GunicornServer(env=environment, workers=2)
        sender = subprocess.Popen(
            [sys.executable, "manage.py", "outbox_send", "--loop", "--interval", "0.2"],
            cwd=ROOT,
            env={**os.environ, **environment},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        running.append((server, sender))
        server.wait_ready()
        api_key, raw_key = api_key_create(name="verification e2e", required_verifications=[])
        return Stack(server.port, mail_dir, sms_file, raw_key, api_key)

    yield start
    for server, sender in running:
        server.stop()
        if sender.poll() is None:
            os.killpg(sender.pid, signal.SIGTERM)
            sender.wait(timeout=30)


def _same(headers: dict) -> dict:
    # Per-request: the request id and the time of the answer.
    return {name: value for name, value in headers.items() if name not in ("X-Request-ID", "Date")}


def test_email_verification_end_to_end(start_stack):
    stack = start_stack(verify="email", overrides={"SIGNUP_VERIFY_RESEND_COOLDOWN": 2})
    Person.objects.create(email="owner@example.com", full_name="The Owner")

    # A new address: a code by mail, confirmed: 201.
    ada = stack.session()
    status, new_body, new_headers = stack.create(
        {"email": "ada@example.com", "full_name": "Ada Lovelace"}, ada
    )
    assert (status, new_body) == (202, b'{"status":"pending","channel":"email","expires_in":900}')
    code = stack.mailed_code("ada@example.com")
    [mail] = stack.mails_to("ada@example.com")
    assert "https://signup.example/confirm#t=" in mail.get_payload()[0].get_payload()
    assert stack.confirm({"email": "ada@example.com", "code": code}, ada) == (201, "")
    assert Person.objects.filter(email="ada@example.com").exists()

    # A taken address: the same answer, a notice to its owner, no code matches.
    mallory = stack.session()
    status, taken_body, taken_headers = stack.create(
        {"email": "owner@example.com", "full_name": "Mallory"}, mallory
    )
    assert (status, taken_body) == (202, new_body)
    assert _same(taken_headers) == _same(new_headers)
    stack.wait_for(lambda: len(stack.mails_to("owner@example.com")), 1)
    [notice] = stack.mails_to("owner@example.com")
    assert not re.search(r"\b\d{6}\b", notice["Subject"] + notice.get_payload()[0].get_payload())
    for guess in (code, "000000", "123456", "999999", "424242"):
        answer = stack.confirm({"email": "owner@example.com", "code": guess}, mallory)
        assert answer == (400, "verification_code_invalid")
    assert stack.confirm({"email": "owner@example.com", "code": code}, mallory) == (
        400,
        "verification_expired",
    )
    assert Person.objects.filter(email="owner@example.com").count() == 1

    # Five wrong codes void a real pending sign-up.
    grace = stack.session()
    stack.create({"email": "grace@example.com", "full_name": "Grace Hopper"}, grace)
    right = stack.mailed_code("grace@example.com")
    wrong = f"{(int(right) + 1) % 10**6:06d}"
    for _ in range(5):
        assert stack.confirm({"email": "grace@example.com", "code": wrong}, grace) == (
            400,
            "verification_code_invalid",
        )
    assert stack.confirm({"email": "grace@example.com", "code": right}, grace) == (
        400,
        "verification_expired",
    )

    # The resend: nothing within the cooldown, a new code after it (the old one dies).
    alan = stack.session()
    body = {"email": "alan@example.com", "full_name": "Alan Turing"}
    assert stack.create(body, alan)[0] == 202
    first = stack.mailed_code("alan@example.com")
    assert stack.create(body, alan)[0] == 202  # at once: within the cooldown
    time.sleep(1)  # the sender would have sent a second code by now
    assert len(stack.mails_to("alan@example.com")) == 1
    time.sleep(1.5)  # the 2 s cooldown is over
    assert stack.create(body, alan)[0] == 202
    second = stack.mailed_code("alan@example.com", nth=2)
    if second != first:
        assert stack.confirm({"email": "alan@example.com", "code": first}, alan) == (
            400,
            "verification_code_invalid",
        )
    assert stack.confirm({"email": "alan@example.com", "code": second}, alan) == (201, "")


def test_an_expired_code_is_void(start_stack):
    stack = start_stack(verify="email", overrides={"SIGNUP_VERIFY_CODE_TTL": 3})
    headers = stack.session()
    status, body, _ = stack.create({"email": "ada@example.com", "full_name": "Ada"}, headers)
    assert (status, json.loads(body)["expires_in"]) == (202, 3)
    code = stack.mailed_code("ada@example.com")
    time.sleep(3.5)
    assert stack.confirm({"email": "ada@example.com", "code": code}, headers) == (
        400,
        "verification_expired",
    )
    assert not Person.objects.exists()


def _phone_create(stack: Stack, headers: dict, n: int, phone: str) -> int:
    body = {"email": f"p{n}.{phone[1:]}@example.com", "full_name": "Pat", "phone": phone}
    return stack.create(body, headers)[0]


def test_phone_verification_refusals_and_a_pumping_run(start_stack):
    stack = start_stack(
        verify="phone",
        # One session sends everything; the SMS limits keep their defaults
        # (10 per prefix an hour, the monitor at 20 requests and 20 %).
        overrides={"SIGNUP_CREATES_PER_SESSION": 100_000, "SIGNUP_CREATE_IP_RATE": "100000/d"},
        env={"GATEHOUSE_SMS_COUNTRIES": "US,CA"},
    )
    headers = stack.session()
    premium = {"email": "p@example.com", "full_name": "Pat", "phone": "+19002345678"}
    status, body, _ = stack.create(premium, headers)
    assert (status, json.loads(body)["code"]) == (400, "phone_not_allowed")
    abroad = {"email": "p@example.com", "full_name": "Pat", "phone": "+447400123456"}
    status, body, _ = stack.create(abroad, headers)
    assert (status, json.loads(body)["code"]) == (400, "phone_country_not_allowed")

    # A clean prefix: every code that is sent is confirmed.
    clean = []
    for n in range(25):
        phone = f"+1201556{n:04d}"
        status = _phone_create(stack, headers, n, phone)
        clean.append(status)
        if status == 202:
            code = stack.texted_code(phone)
            assert stack.confirm({"phone": phone, "code": code}, headers) == (201, "")
    assert clean == [202] * 10 + [429] * 15  # the prefix's hourly budget, not a block

    # A pumping run: hundreds of numbers of one prefix, none confirmed.
    run = [_phone_create(stack, headers, n, f"+1201555{n:04d}") for n in range(300)]
    assert run[:10] == [202] * 10
    assert run[10:19] == [429] * 9  # the budget
    assert run[19:] == [403] * 281  # the 20th request crossed the monitor; then the block
    block = BlockedClient.objects.get(kind="phone_prefix")
    assert block.value == "+1201555" and block.created_by_rule == "sms-pumping"
    assert not BlockedClient.objects.filter(value="+1201556").exists()
    assert _phone_create(stack, headers, 99, "+12015560099") == 429  # still the budget
    # Ten codes went to each prefix, none more (the sender has sent them all by now).
    stack.wait_for(lambda: len(sms_file_lines(stack.sms_file)), 20)
    texts = [line["to"] for line in sms_file_lines(stack.sms_file)]
    assert sum(1 for to in texts if to.startswith("+1201555")) == 10
    assert sum(1 for to in texts if to.startswith("+1201556")) == 10
