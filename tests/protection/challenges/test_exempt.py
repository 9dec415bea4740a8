"""POW_ESCALATION_EXEMPT_NETWORKS: loopback under DEBUG keeps the base difficulty."""

import pytest

from protection.challenges.pow import pow_difficulty
from protection.core.events import event_record
from tests.support.challenges import easy_pow_fixture  # noqa: F401

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("easy_pow")]


def test_exempt_networks_do_not_escalate_on_their_own_denials(api_key, settings):
    key, _ = api_key
    settings.GATEHOUSE = {
        **settings.GATEHOUSE,
        "POW_ESCALATION_EXEMPT_NETWORKS": ["127.0.0.0/8", "::1/128"],
    }
    base = pow_difficulty(client_ip="127.0.0.1", api_key=key)
    for ip in ("127.0.0.1", "::1", "198.51.100.7"):
        for _ in range(9):
            event_record(kind="challenge_failed", decision="deny", client_ip=ip)
    assert pow_difficulty(client_ip="127.0.0.1", api_key=key) == base
    assert pow_difficulty(client_ip="::1", api_key=key) == base
    assert pow_difficulty(client_ip="198.51.100.7", api_key=key) == base * 8


def test_without_the_setting_loopback_escalates_like_anyone(api_key):
    key, _ = api_key
    base = pow_difficulty(client_ip="127.0.0.1", api_key=key)
    for _ in range(3):
        event_record(kind="challenge_failed", decision="deny", client_ip="127.0.0.1")
    assert pow_difficulty(client_ip="127.0.0.1", api_key=key) == base * 2
