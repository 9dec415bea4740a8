"""The SMS channel: pluggable senders (console, file, a dotted class), and the
Twilio adapter against a local fake of its Messages API."""

import datetime
import json
from typing import ClassVar

import pytest
from django.core.management import call_command

from protection.core.outbox import (
    OutboxMessage,
    PermanentDeliveryError,
    RetryableDeliveryError,
    outbox_send_due,
)
from protection.core.outbox.sms import outbox_sms_enqueue
from protection.core.outbox.twilio import TwilioSmsSender
from tests.support.receivers import FakeTwilio, receiving

pytestmark = pytest.mark.django_db

SID, TOKEN = "AC" + "a1" * 16, "test-auth-token"


class RecordingSender:
    sent: ClassVar[list[tuple[str, str]]] = []

    def send(self, to: str, body: str) -> None:
        self.sent.append((to, body))


def test_the_file_backend_writes_one_json_line_per_message(gatehouse, tmp_path):
    path = tmp_path / "sms" / "outbox.jsonl"
    gatehouse(SMS_BACKEND="file", SMS_FILE_PATH=str(path))
    outbox_sms_enqueue(to="+12015550123", body="first")
    outbox_sms_enqueue(to="+447700900123", body='second "quoted"\nline')
    call_command("outbox_send", verbosity=0)
    lines = path.read_text().splitlines()
    assert [json.loads(line) for line in lines] == [
        {"to": "+12015550123", "body": "first"},
        {"to": "+447700900123", "body": 'second "quoted"\nline'},
    ]


def test_the_console_backend_prints_the_message(gatehouse, capsys):
    gatehouse(SMS_BACKEND="console")
    outbox_sms_enqueue(to="+12015550123", body="hello")
    outbox_send_due()
    assert "SMS to +12015550123:\nhello" in capsys.readouterr().out


def test_a_dotted_path_names_any_sender_class(gatehouse):
    gatehouse(SMS_BACKEND=f"{__name__}.RecordingSender")
    RecordingSender.sent.clear()
    outbox_sms_enqueue(
        to="+12015550123",
        template="signup/sms/verification_code.txt",
        context={"code": "123456", "expires_minutes": 15, "service_name": "Example"},
    )
    outbox_send_due()
    assert RecordingSender.sent == [
        ("+12015550123", "123456 is your Example code. It expires in 15 minutes.")
    ]


def test_without_a_backend_sms_wait_and_say_why(gatehouse):
    gatehouse(SMS_BACKEND="")
    message = outbox_sms_enqueue(to="+12015550123", body="hello")
    assert outbox_send_due().retried == 1
    message.refresh_from_db()
    assert message.status == "pending"
    assert message.last_error == "no SMS backend is configured (SMS_BACKEND)"


def test_an_sms_is_never_sent_after_its_end(gatehouse, tmp_path):
    path = tmp_path / "sms.jsonl"
    gatehouse(SMS_BACKEND="file", SMS_FILE_PATH=str(path))
    now = datetime.datetime(2030, 1, 1, tzinfo=datetime.UTC)
    outbox_sms_enqueue(
        to="+12015550123", body="code", now=now, not_after=now + datetime.timedelta(minutes=15)
    )
    assert outbox_send_due(now=now + datetime.timedelta(minutes=20)).dead == 1
    assert not path.exists()


# --- Twilio, against a local fake speaking its protocol ---------------------------


@pytest.fixture
def twilio():
    with receiving(FakeTwilio(account_sid=SID, auth_token=TOKEN)) as fake:
        yield fake


def _sender(twilio, **overrides) -> TwilioSmsSender:
    fields = {
        "account_sid": SID,
        "auth_token": TOKEN,
        "sender": "+12015550100",
        "base_url": twilio.url,
        "timeout": 5,
    }
    return TwilioSmsSender(**{**fields, **overrides})


def test_twilio_accepts_a_message_posted_as_its_api_expects(twilio):
    _sender(twilio).send("+12015550123", "123456 is your code")
    request = twilio.received[-1]
    assert request.method == "POST"
    assert request.path == f"/2010-04-01/Accounts/{SID}/Messages.json"
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert request.body == b"To=%2B12015550123&Body=123456+is+your+code&From=%2B12015550100"


def test_twilio_with_a_messaging_service_sends_its_sid(twilio):
    _sender(twilio, sender="MG" + "b2" * 16).send("+12015550123", "hi")
    assert b"MessagingServiceSid=MG" in twilio.received[-1].body
    assert b"From=" not in twilio.received[-1].body


def test_twilio_4xx_is_permanent_and_the_error_does_not_quote_the_number(twilio):
    with pytest.raises(PermanentDeliveryError) as refused:
        _sender(twilio).send("12015550123", "hi")  # not +E.164: Twilio's 21211
    assert str(refused.value) == "twilio HTTP 400 error 21211"
    with pytest.raises(PermanentDeliveryError, match="twilio HTTP 401 error 20003"):
        _sender(twilio, auth_token="wrong").send("+12015550123", "hi")


def test_twilio_5xx_and_429_are_retried(twilio):
    twilio.fail_with = [(503, 20500, {}), (429, 20429, {"Retry-After": "120"})]
    with pytest.raises(RetryableDeliveryError, match="twilio HTTP 503 error 20500"):
        _sender(twilio).send("+12015550123", "hi")
    with pytest.raises(RetryableDeliveryError) as limited:
        _sender(twilio).send("+12015550123", "hi")
    assert limited.value.retry_after == 120


def test_twilio_unreachable_is_retried():
    sender = TwilioSmsSender(
        account_sid=SID, auth_token=TOKEN, sender="+12015550100", base_url="http://127.0.0.1:9"
    )
    with pytest.raises(RetryableDeliveryError, match="twilio unreachable: connection refused"):
        sender.send("+12015550123", "hi")


def test_twilio_through_the_outbox_from_settings(gatehouse, twilio):
    gatehouse(
        SMS_BACKEND="twilio",
        TWILIO_ACCOUNT_SID=SID,
        TWILIO_AUTH_TOKEN=TOKEN,
        TWILIO_FROM="+12015550100",
        TWILIO_BASE_URL=twilio.url,
    )
    ok = outbox_sms_enqueue(to="+12015550123", body="hi")
    bad = outbox_sms_enqueue(to="2015550123", body="hi")
    twilio.fail_with = []
    report = outbox_send_due()
    assert (report.sent, report.dead) == (1, 1)
    assert OutboxMessage.objects.get(pk=ok.pk).status == "sent"
    refused = OutboxMessage.objects.get(pk=bad.pk)
    assert refused.last_error == "twilio HTTP 400 error 21211"
    assert "2015550123" not in refused.last_error
