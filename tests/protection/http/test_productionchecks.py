"""protection.W220: a key requiring evidence this deployment cannot check is flagged."""

import pytest

from protection.http.productionchecks import check_key_evidence_settings

pytestmark = pytest.mark.django_db


def _ids(messages):
    return [(message.id, message.msg) for message in messages]


@pytest.mark.parametrize(
    ("required", "setting"),
    [
        (["dpop"], "GATEHOUSE_PUBLIC_BASE_URL"),
        (["app_attest"], "GATEHOUSE_APP_ATTEST_APP_IDS"),
        (["app_check"], "GATEHOUSE_APPCHECK_PROJECT_NUMBER"),
        (["approov"], "GATEHOUSE_APPROOV_SECRET"),
    ],
)
def test_a_key_requiring_unconfigured_evidence_is_flagged(
    make_api_key, settings, required, setting
):
    settings.GATEHOUSE = {
        **settings.GATEHOUSE,
        "PUBLIC_BASE_URL": "",
        "APP_ATTEST_APP_IDS": [],
        "APPCHECK_PROJECT_NUMBER": "",
        "APPROOV_SECRET": "",
    }
    key, _ = make_api_key(name="mobile", required_verifications=required)
    found = _ids(check_key_evidence_settings(None))
    assert len(found) == 1
    check_id, message = found[0]
    assert check_id == "protection.W220"
    assert key.public_id in message and required[0] in message and setting in message


def test_configured_evidence_and_revoked_keys_are_not_flagged(make_api_key, settings):
    settings.GATEHOUSE = {
        **settings.GATEHOUSE,
        "PUBLIC_BASE_URL": "https://api.example.com",
        "APP_ATTEST_APP_IDS": ["ABCDE12345.com.example.signup"],
    }
    make_api_key(name="mobile", required_verifications=["dpop", "app_attest"])
    revoked, _ = make_api_key(name="old", required_verifications=["app_check"])
    from protection.keys import api_key_revoke

    api_key_revoke(api_key=revoked, reason="test")
    assert check_key_evidence_settings(None) == []
