"""The policy files shipped in deploy/policy/ are valid, and the strict one
turns on what docs/farms.md says it does."""

import io
from pathlib import Path

import pytest
from django.core.management import call_command

from protection.conf import gatehouse_settings
from protection.core.ratelimit import observed_dimensions

POLICIES = Path(__file__).resolve().parents[3] / "deploy" / "policy"


@pytest.mark.parametrize("path", sorted(POLICIES.glob("*.toml")), ids=lambda path: path.name)
def test_every_shipped_policy_passes_policy_check(path):
    out, err = io.StringIO(), io.StringIO()
    call_command("policy_check", str(path), stdout=out, stderr=err)
    assert out.getvalue().strip() == f"policy file {path} is valid"
    assert err.getvalue() == ""


def test_the_strict_policy_enforces_the_farm_limits(settings):
    settings.GATEHOUSE = {**settings.GATEHOUSE, "POLICY_FILE": str(POLICIES / "strict.toml")}
    create = gatehouse_settings.RATE_LIMITS["create"]
    assert (create["asn"], create["mailbox"], create["device"]) == (
        ["20/m", "300/h"],
        ["3/d"],
        ["5/d"],
    )
    assert create["ip"] == ["10/m", "100/d"]  # what the file does not set keeps its default
    assert observed_dimensions("create") == {"key", "email_domain", "phone_prefix"}
    assert observed_dimensions("session") == {"key"}
    assert gatehouse_settings.NETWORK_POLICY["hosting"] == "harder"


def test_by_default_the_per_key_per_as_and_shared_identity_limits_only_observe():
    assert observed_dimensions("create") == {"key", "asn", "email_domain", "phone_prefix"}
    assert "asn" in observed_dimensions("lookup")
    create = gatehouse_settings.RATE_LIMITS["create"]
    assert (create["asn"], create["mailbox"], create["device"]) == (["300/h"], ["3/d"], ["5/d"])
