"""Mail, SMS and webhook settings come from the environment (a fresh interpreter per case)."""

import json

import pytest

from tests.support.fresh_interpreter import PRODUCTION_ENV, run_python

pytestmark = pytest.mark.subprocess  # each starts a Python process: not in make test-fast

PRINT_DELIVERY = (
    "import json, django; django.setup(); from django.conf import settings as s; "
    "from protection.conf import gatehouse_settings as g; "
    "print(json.dumps({'backend': s.EMAIL_BACKEND, 'file': getattr(s, 'EMAIL_FILE_PATH', None), "
    "'host': s.EMAIL_HOST, 'port': s.EMAIL_PORT, 'user': s.EMAIL_HOST_USER, "
    "'password': s.EMAIL_HOST_PASSWORD, 'tls': s.EMAIL_USE_TLS, 'from': s.DEFAULT_FROM_EMAIL, "
    "'sms': g.SMS_BACKEND, 'sms_file': g.SMS_FILE_PATH, 'twilio_sid': g.TWILIO_ACCOUNT_SID, "
    "'twilio_from': g.TWILIO_FROM, 'twilio_base': g.TWILIO_BASE_URL, "
    "'private': g.WEBHOOKS_ALLOW_PRIVATE_TARGETS, 'pii': g.WEBHOOKS_INCLUDE_PII}))"
)
UNSET = {
    name: ""
    for name in (
        "DJANGO_EMAIL_BACKEND",
        "DJANGO_EMAIL_FILE_PATH",
        "DJANGO_EMAIL_HOST",
        "DJANGO_EMAIL_PORT",
        "DJANGO_EMAIL_HOST_USER",
        "DJANGO_EMAIL_HOST_PASSWORD",
        "DJANGO_EMAIL_USE_TLS",
        "DJANGO_DEFAULT_FROM_EMAIL",
        "GATEHOUSE_SMS_BACKEND",
        "GATEHOUSE_SMS_FILE_PATH",
        "GATEHOUSE_TWILIO_ACCOUNT_SID",
        "GATEHOUSE_TWILIO_FROM",
        "GATEHOUSE_TWILIO_BASE_URL",
        "GATEHOUSE_WEBHOOKS_ALLOW_PRIVATE_TARGETS",
        "GATEHOUSE_WEBHOOKS_INCLUDE_PII",
    )
}


def delivery_settings(**env: str) -> dict:
    result = run_python(PRINT_DELIVERY, **{**UNSET, **env})
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_debug_prints_mail_and_sms_production_sends_mail_by_smtp_and_has_no_sms():
    debug = delivery_settings(DJANGO_DEBUG="1")
    assert debug["backend"] == "django.core.mail.backends.console.EmailBackend"
    assert debug["sms"] == "console"
    production = delivery_settings(**PRODUCTION_ENV)
    assert production["backend"] == "django.core.mail.backends.smtp.EmailBackend"
    assert (production["host"], production["port"], production["tls"]) == ("localhost", 25, False)
    assert production["sms"] == "" and production["private"] is False


def test_smtp_comes_from_the_environment():
    values = delivery_settings(
        DJANGO_EMAIL_BACKEND="smtp",
        DJANGO_EMAIL_HOST="smtp.example.com",
        DJANGO_EMAIL_PORT="587",
        DJANGO_EMAIL_HOST_USER="mailer",
        DJANGO_EMAIL_HOST_PASSWORD="s3cret",
        DJANGO_EMAIL_USE_TLS="1",
        DJANGO_DEFAULT_FROM_EMAIL="Sign-up <no-reply@example.com>",
    )
    assert values["backend"] == "django.core.mail.backends.smtp.EmailBackend"
    assert (values["host"], values["port"], values["user"], values["password"]) == (
        "smtp.example.com",
        587,
        "mailer",
        "s3cret",
    )
    assert values["tls"] is True and values["from"] == "Sign-up <no-reply@example.com>"


def test_the_file_mail_backend_and_the_sms_providers_come_from_the_environment():
    values = delivery_settings(
        DJANGO_EMAIL_BACKEND="file",
        DJANGO_EMAIL_FILE_PATH="/tmp/gatehouse-mail",
        GATEHOUSE_SMS_BACKEND="twilio",
        GATEHOUSE_TWILIO_ACCOUNT_SID="AC123",
        GATEHOUSE_TWILIO_FROM="+12015550100",
        GATEHOUSE_TWILIO_BASE_URL="http://127.0.0.1:9999",
        GATEHOUSE_WEBHOOKS_ALLOW_PRIVATE_TARGETS="1",
        GATEHOUSE_WEBHOOKS_INCLUDE_PII="1",
    )
    assert values["backend"] == "django.core.mail.backends.filebased.EmailBackend"
    assert values["file"] == "/tmp/gatehouse-mail"
    assert (values["sms"], values["twilio_sid"], values["twilio_from"]) == (
        "twilio",
        "AC123",
        "+12015550100",
    )
    assert values["twilio_base"] == "http://127.0.0.1:9999"
    assert values["private"] is True and values["pii"] is True
    assert delivery_settings()["twilio_base"] == "https://api.twilio.com"
