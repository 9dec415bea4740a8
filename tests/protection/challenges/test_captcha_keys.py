"""Which CAPTCHA a key uses: its field, the commands, the admin, rotation."""

import json
from io import StringIO

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command

from protection.keys import ApiKey, api_key_create, api_key_rotate, api_key_update

pytestmark = pytest.mark.django_db


def create(*args):
    out = StringIO()
    call_command("create_api_key", "--name", "app", "--json", *args, stdout=out)
    return json.loads(out.getvalue())


def test_requiring_a_captcha_makes_it_the_keys_captcha():
    assert create("--require", "pow,turnstile")["captcha"] == "turnstile"
    assert create("--require", "hcaptcha")["captcha"] == "hcaptcha"
    assert create("--require", "pow")["captcha"] is None


def test_a_key_may_name_a_captcha_it_does_not_require_yet():
    summary = create("--require", "pow", "--captcha", "turnstile", "--captcha-action", "join")
    key = ApiKey.objects.get(public_id=summary["public_id"])
    assert (key.captcha, key.captcha_action) == ("turnstile", "join")


@pytest.mark.parametrize(
    "args",
    [
        ("--require", "turnstile,hcaptcha"),
        ("--require", "turnstile", "--captcha", "recaptcha"),
        ("--require", "turnstile", "--captcha-action", "no spaces"),
    ],
)
def test_contradictions_are_refused(args):
    with pytest.raises(CommandError):
        create(*args)


def test_updates_keep_the_captcha_consistent():
    key, _ = api_key_create(name="app", required_verifications=["pow"])
    key = api_key_update(api_key=key, changes={"required_verifications": ["pow", "hcaptcha"]})
    assert key.captcha == "hcaptcha"
    with pytest.raises(ValidationError):
        api_key_update(api_key=key, changes={"captcha": "turnstile"})
    key = api_key_update(api_key=key, changes={"required_verifications": ["pow"]})
    assert key.captcha == "hcaptcha"  # still the key's CAPTCHA, asked for when a ladder wants


def test_rotation_copies_the_captcha_and_its_action():
    old, _ = api_key_create(
        name="app", required_verifications=["turnstile"], captcha_action="signup_eu"
    )
    new, _ = api_key_rotate(api_key=old)
    assert (new.captcha, new.captcha_action) == ("turnstile", "signup_eu")


ADD_FORM = {
    "kind": "publishable",
    "scopes": ["session"],
    "allowed_origins": "https://app.example",
    "recaptcha_version": "v3",
    "recaptcha_action": "session",
    "recaptcha_min_score": "0.5",
    "rate_limit_overrides": "{}",
    "expires_at_0": "",
    "expires_at_1": "",
}


def test_the_admin_sets_the_captcha(admin_client):
    response = admin_client.post(
        "/admin/protection/apikey/add/",
        {**ADD_FORM, "name": "captcha app", "required_verifications": ["pow", "turnstile"],
         "captcha_action": "join"},
    )  # fmt: skip
    assert response.status_code == 303, response.content  # to the page that shows it once
    key = ApiKey.objects.get(name="captcha app")
    assert (key.captcha, key.captcha_action) == ("turnstile", "join")
    refused = admin_client.post(
        "/admin/protection/apikey/add/",
        {**ADD_FORM, "name": "two", "required_verifications": ["turnstile"],
         "captcha": "hcaptcha"},
    )  # fmt: skip
    assert "requires turnstile but its CAPTCHA is hcaptcha" in refused.content.decode()
    assert not ApiKey.objects.filter(name="two").exists()
