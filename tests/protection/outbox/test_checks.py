"""System checks of the outbox and webhook settings (protection.E160–E165, W160–W165)."""

import pytest
from django.core import checks

from protection.core.outbox.checks import check_outbox_production_backends, check_outbox_settings
from protection.webhooks.checks import check_webhook_private_targets, check_webhook_settings


def _ids(messages) -> list[str]:
    return [message.id for message in messages]


def test_the_defaults_pass():
    assert check_outbox_settings(None) == [] and check_webhook_settings(None) == []


@pytest.mark.parametrize(
    ("values", "check_id"),
    [
        ({"SMS_BACKEND": "made.up.Sender"}, "protection.E160"),
        ({"SMS_BACKEND": "file", "SMS_FILE_PATH": ""}, "protection.E161"),
        ({"SMS_BACKEND": "twilio", "TWILIO_ACCOUNT_SID": "AC1"}, "protection.E162"),
        ({"OUTBOX_GIVE_UP_AFTER": {"sms": -1}}, "protection.E163"),
        ({"OUTBOX_RETRY_BASE": "30"}, "protection.E163"),
    ],
)
def test_sms_and_outbox_misconfiguration_is_an_error(gatehouse, values, check_id):
    gatehouse(**values)
    assert check_id in _ids(check_outbox_settings(None))


@pytest.mark.parametrize("values", [{"WEBHOOKS_TIMEOUT": 0}, {"WEBHOOKS_DISABLE_AFTER": "1d"}])
def test_webhook_misconfiguration_is_an_error(gatehouse, values):
    gatehouse(**values)
    assert _ids(check_webhook_settings(None)) == ["protection.E165"]


def test_development_backends_and_private_targets_are_flagged_in_production(settings, gatehouse):
    settings.DEBUG = False
    settings.EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
    gatehouse(SMS_BACKEND="console", WEBHOOKS_ALLOW_PRIVATE_TARGETS=True)
    assert _ids(check_outbox_production_backends(None)) == ["protection.W160", "protection.W161"]
    assert _ids(check_webhook_private_targets(None)) == ["protection.W165"]
    assert all(isinstance(m, checks.Warning) for m in check_webhook_private_targets(None))
    settings.DEBUG = True
    assert check_outbox_production_backends(None) == []
    assert check_webhook_private_targets(None) == []
