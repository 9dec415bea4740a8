"""What sign-up sends, rendered when the outbox sends it: the code mail (text and
HTML, the code, the confirm link with the token in its fragment) and the notice to
an address's owner; the SMS variants through the file backend."""

import datetime
import json
import re

import pytest
from django.core import mail
from django.core.management import call_command

from protection.core.outbox import OutboxMessage
from signup.notifications import (
    signup_attempt_notice_mail_enqueue,
    signup_attempt_notice_sms_enqueue,
    verification_code_mail_enqueue,
    verification_code_sms_enqueue,
    verification_confirm_link,
)

pytestmark = pytest.mark.django_db

NOW = datetime.datetime(2030, 1, 1, 12, 0, tzinfo=datetime.UTC)
TOKEN = "Zk9x-opaque_token"


def _send():
    call_command("outbox_send", verbosity=0)


def test_the_code_mail_has_the_code_and_a_link_with_the_token_in_its_fragment(signup_settings):
    signup_settings(PUBLIC_BASE_URL="https://signup.example", SIGNUP_SERVICE_NAME="Example")
    verification_code_mail_enqueue(
        email="ada@example.com",
        code="123456",
        token=TOKEN,
        expires_at=datetime.datetime.now(tz=datetime.UTC) + datetime.timedelta(minutes=15),
    )
    _send()
    [sent] = mail.outbox
    assert sent.to == ["ada@example.com"]
    assert sent.subject == "123456 is your Example code"
    link = f"https://signup.example/confirm#t={TOKEN}"
    assert "123456" in sent.body and link in sent.body
    assert "The code expires in 15 minutes." in sent.body
    [(html, mimetype)] = sent.alternatives
    assert mimetype == "text/html"
    assert "123456" in html and f'href="{link}"' in html and '<html lang="en-us">' in html
    # No identifier in any URL of the mail.
    for url in re.findall(r"https?://\S+", sent.body + html):
        assert "ada" not in url and "@" not in url and "%40" not in url


def test_the_confirm_link_prefers_its_own_setting_and_is_absent_without_a_base(signup_settings):
    signup_settings(SIGNUP_CONFIRM_URL="https://app.example/signup/confirm", PUBLIC_BASE_URL="")
    assert verification_confirm_link("a/b c") == "https://app.example/signup/confirm#t=a%2Fb%20c"
    signup_settings(SIGNUP_CONFIRM_URL="", PUBLIC_BASE_URL="")
    assert verification_confirm_link(TOKEN) is None


def test_without_a_page_url_the_code_mail_carries_the_code_only(signup_settings):
    signup_settings(PUBLIC_BASE_URL="", SIGNUP_CONFIRM_URL="")
    verification_code_mail_enqueue(
        email="ada@example.com",
        code="654321",
        token=TOKEN,
        expires_at=datetime.datetime.now(tz=datetime.UTC) + datetime.timedelta(minutes=1),
    )
    _send()
    [sent] = mail.outbox
    assert "654321" in sent.body and TOKEN not in sent.body and "http" not in sent.body
    assert "The code expires in 1 minute." in sent.body


def test_the_notice_to_an_owner_says_someone_tried_and_nothing_changed(signup_settings):
    signup_settings(SIGNUP_SERVICE_NAME="Example")
    signup_attempt_notice_mail_enqueue(email="owner@example.com", language="fr")
    _send()
    [sent] = mail.outbox
    assert sent.to == ["owner@example.com"]
    assert sent.subject == "Someone tried to sign up for Example with your address"
    assert "no new account was created" in sent.body
    [(html, _)] = sent.alternatives
    assert "no new account was created" in html and '<html lang="fr">' in html


def test_a_code_mail_is_not_sent_after_the_code_expired():
    message = verification_code_mail_enqueue(
        email="ada@example.com",
        code="123456",
        token=TOKEN,
        expires_at=NOW + datetime.timedelta(minutes=15),
        now=NOW,
    )
    assert message.give_up_at == NOW + datetime.timedelta(minutes=15)
    assert message.payload["context"]["expires_minutes"] == 15
    assert set(message.payload) == {"to", "template", "context", "language"}


def test_the_code_and_the_notice_by_sms(signup_settings, tmp_path):
    path = tmp_path / "sms.jsonl"
    signup_settings(SMS_BACKEND="file", SMS_FILE_PATH=str(path), SIGNUP_SERVICE_NAME="Example")
    verification_code_sms_enqueue(
        phone="+12015550123",
        code="123456",
        expires_at=datetime.datetime.now(tz=datetime.UTC) + datetime.timedelta(minutes=10),
    )
    signup_attempt_notice_sms_enqueue(phone="+12015550124")
    _send()
    sent = [json.loads(line) for line in path.read_text().splitlines()]
    assert sent[0] == {
        "to": "+12015550123",
        "body": "123456 is your Example code. It expires in 10 minutes.",
    }
    assert sent[1]["to"] == "+12015550124" and "already has an account" in sent[1]["body"]
    assert all(m.payload == {} for m in OutboxMessage.objects.all())
