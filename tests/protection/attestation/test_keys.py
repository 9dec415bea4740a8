"""Keys that require attestation: commands, admin, rotation, validation, `requires`."""

import json
import os
import subprocess
import sys
from io import StringIO

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from protection.keys import ApiKey, api_key_create, api_key_rotate, api_key_update
from tests.support.paths import ROOT

pytestmark = pytest.mark.django_db


def run(*args: str) -> list[str]:
    out = StringIO()
    call_command("create_api_key", *args, stdout=out)
    return out.getvalue().splitlines()


def test_require_takes_the_attestation_names():
    lines = run(
        "--name", "mobile", "--require", "pow,approov,app_check,app_attest,dpop",
        "--attest-every-request",
    )  # fmt: skip
    key = ApiKey.objects.get()
    assert key.required_verifications == ["pow", "approov", "app_check", "app_attest", "dpop"]
    assert key.attest_every_request is True
    assert any("approov" in line and "every request" in line for line in lines)
    assert lines[-1].startswith("gh_pub_")  # the raw key, alone on the last line


def test_without_the_flag_attestation_is_for_sessions_only():
    run("--name", "web", "--require", "approov")
    assert ApiKey.objects.get().attest_every_request is False


def test_every_request_mode_needs_an_attestation_verification():
    with pytest.raises(CommandError, match="needs an attestation verification"):
        run("--name", "x", "--require", "pow,dpop", "--attest-every-request")
    assert not ApiKey.objects.exists()
    key, _ = api_key_create(name="y", required_verifications=["approov"], attest_every_request=True)
    with pytest.raises(ValidationError):  # dropping the attestation would leave the mode empty
        api_key_update(api_key=key, changes={"required_verifications": ["pow"]})
    changed = api_key_update(
        api_key=key, changes={"required_verifications": ["pow"], "attest_every_request": False}
    )
    assert (changed.required_verifications, changed.attest_every_request) == (["pow"], False)


def test_unknown_verification_is_refused():
    with pytest.raises(CommandError, match="Unknown verification"):
        run("--name", "x", "--require", "approov,safetynet")
    assert not ApiKey.objects.exists()


def test_rotation_keeps_the_attestation_settings():
    old, _ = api_key_create(
        name="mobile",
        required_verifications=["approov"],
        attest_every_request=True,
        attestation_overrides={"app_check_app_ids": ["1:1:ios:a"], "approov_secret": "shop"},
    )
    new, _ = api_key_rotate(api_key=old)
    assert new.required_verifications == ["approov"]
    assert new.attest_every_request is True
    assert new.attestation_overrides == {
        "app_check_app_ids": ["1:1:ios:a"],
        "approov_secret": "shop",
    }


@pytest.mark.parametrize(
    "overrides",
    [
        {"approov_secret_value": "c2VjcmV0"},  # unknown member: secrets are never stored
        {"app_check_app_ids": "1:1:ios:a"},  # not a list
        {"app_check_app_ids": [""]},
        {"app_check_project_number": "my-project"},
        {"approov_secret": "x" * 65},
        ["app_check_app_ids"],
    ],
)
def test_invalid_overrides_are_refused(overrides):
    with pytest.raises(ValidationError):
        api_key_create(name="x", attestation_overrides=overrides)
    key, _ = api_key_create(name="y")
    with pytest.raises(ValidationError):
        api_key_update(api_key=key, changes={"attestation_overrides": overrides})


def test_update_can_switch_every_request_mode():
    key, _ = api_key_create(name="y", required_verifications=["app_check"])
    updated = api_key_update(api_key=key, changes={"attest_every_request": True})
    assert updated.attest_every_request is True


def test_admin_creates_a_key_requiring_attestation(django_user_model):
    user = django_user_model.objects.create_superuser("root", "root@example.com", "pw")
    client = Client()
    client.force_login(user)
    form = {
        "name": "iOS app",
        "kind": "publishable",
        "scopes": ["session", "lookup", "create"],
        "allowed_origins": "",
        "required_verifications": ["approov", "app_check"],
        "recaptcha_version": "v3",
        "recaptcha_action": "session",
        "recaptcha_min_score": "0.5",
        "attest_every_request": "on",
        "attestation_overrides": '{"app_check_app_ids": ["1:2:ios:b"]}',
        "rate_limit_overrides": "{}",
        "expires_at_0": "",
        "expires_at_1": "",
    }
    created = client.post("/admin/protection/apikey/add/", form, follow=True)
    assert created.status_code == 200 and "gatehouse-raw-key" in created.content.decode()
    key = ApiKey.objects.get()
    assert key.required_verifications == ["approov", "app_check"]
    assert key.attest_every_request is True
    assert key.attestation_overrides == {"app_check_app_ids": ["1:2:ios:b"]}
    bad = client.post(
        "/admin/protection/apikey/add/",
        {**form, "attestation_overrides": '{"approov_secret_value": "x"}'},
    )
    assert "Unknown attestation override" in bad.content.decode()
    pointless = client.post(
        "/admin/protection/apikey/add/", {**form, "required_verifications": ["pow"]}
    )
    assert "needs an attestation verification" in pointless.content.decode()
    assert ApiKey.objects.count() == 1


def test_challenge_response_lists_what_the_key_requires(client):
    _, raw = api_key_create(name="mobile", required_verifications=["pow", "approov", "app_check"])
    response = client.post("/api/v1/challenges", HTTP_X_API_KEY=raw)
    assert response.status_code == 201
    assert response.json()["requires"] == ["pow", "approov", "app_check"]


@pytest.mark.subprocess
def test_settings_read_the_attestation_environment():
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("GATEHOUSE_A") and key != "DJANGO_SETTINGS_MODULE"
    }
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        GATEHOUSE_APPROOV_SECRET="c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA",
        GATEHOUSE_APPROOV_SECRET_SHOP="c2hvcC1zZWNyZXQ",
        GATEHOUSE_APPCHECK_PROJECT_NUMBER="123456789012",
        GATEHOUSE_APPCHECK_APP_IDS="1:123456789012:android:a, 1:123456789012:ios:b",
        GATEHOUSE_APPCHECK_JWKS_URL="https://keys.example/jwks",
        GATEHOUSE_PUBLIC_BASE_URL="https://api.example",
    )
    code = (
        "import json, django; django.setup(); from protection.conf import gatehouse_settings as g;"
        "print(json.dumps([g.APPROOV_SECRET, g.APPROOV_SECRETS, g.APPCHECK_PROJECT_NUMBER,"
        " g.APPCHECK_APP_IDS, g.APPCHECK_JWKS_URL, g.PUBLIC_BASE_URL]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    assert json.loads(result.stdout.strip().splitlines()[-1]) == [
        "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA",
        {"shop": "c2hvcC1zZWNyZXQ"},
        "123456789012",
        ["1:123456789012:android:a", "1:123456789012:ios:b"],
        "https://keys.example/jwks",
        "https://api.example",
    ]
