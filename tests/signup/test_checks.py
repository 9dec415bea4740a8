"""The verification settings' system checks (signup.E060–E063, W060–W061)."""

import pytest
from django.core import checks


def _ids(**deploy):
    return {
        message.id for message in checks.run_checks(**deploy) if message.id.startswith("signup.")
    }


@pytest.mark.parametrize(
    ("values", "check_id"),
    [
        ({"SIGNUP_VERIFY": "emial"}, "signup.E060"),
        ({"SMS_COUNTRIES": ["USA"]}, "signup.E061"),
        ({"SMS_COUNTRIES": "US"}, "signup.E061"),
        ({"SMS_PREFIX_RATES": ["10 per hour"]}, "signup.E062"),
        ({"SMS_PREFIX_RATES": "10/h"}, "signup.E062"),
        ({"SIGNUP_VERIFY_MAX_ATTEMPTS": 0}, "signup.E063"),
        ({"SIGNUP_VERIFY_CODE_TTL": "900"}, "signup.E063"),
        ({"SMS_PUMPING_MIN_CONFIRM_RATE": 1.5}, "signup.E063"),
    ],
)
def test_misconfigured_verification_is_an_error(signup_settings, values, check_id):
    assert _ids() == set()
    signup_settings(**values)
    assert _ids() == {check_id}


def test_a_mode_without_its_channel_is_a_deploy_warning(signup_settings, settings):
    signup_settings(SIGNUP_VERIFY="phone", SMS_BACKEND="")
    assert "signup.W060" in _ids(include_deployment_checks=True)
    signup_settings(SIGNUP_VERIFY="email")
    settings.EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
    assert "signup.W061" in _ids(include_deployment_checks=True)
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    assert not {"signup.W060", "signup.W061"} & _ids(include_deployment_checks=True)
