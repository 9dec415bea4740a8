"""LABEL_FRAUD_BLOCKS: checked in Python settings (protection.E280) and in a policy
file (its label_fraud_blocks table replaces the setting), and what a fraud label
blocks from a snapshot, before anything is written."""

from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from protection.conf import gatehouse_settings
from protection.policy.labels import label_block_targets, label_fraud_blocks_problems

SNAPSHOT = {
    "session": "0b5c5f0e-5f1a-4c1e-9d55-3f1f0a1b2c3d",
    "device": {"id": "dev-1", "digest": "d1", "verified": True},
    "ip_prefix": "2001:db8:1:2::/64",
}


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ({"session": 60, "ip": 3600, "device": 86400.5}, None),
        ({}, None),
        ([60], "expected a table"),
        ({"asn": 60}, "asn: not one of session, device, ip"),
        ({"ip": "24h"}, "ip: '24h' is not a number of seconds"),
        ({"ip": True}, "ip: True is not a number of seconds"),
        ({"session": 0}, "session: 0 is not in (0, "),
    ],
)
def test_label_fraud_blocks_problems(value: Any, problem: str | None) -> None:
    problems = label_fraud_blocks_problems(value)
    if problem is None:
        assert problems == []
    else:
        assert len(problems) == 1 and problems[0].startswith(problem)


def test_a_bad_setting_fails_check_e280(settings: Any) -> None:
    settings.GATEHOUSE = {**settings.GATEHOUSE, "LABEL_FRAUD_BLOCKS": {"cookie": 60}}
    with pytest.raises(SystemCheckError) as raised:
        call_command("check")
    assert "protection.E280" in str(raised.value)
    assert "cookie: not one of session, device, ip" in str(raised.value)


def test_a_policy_file_replaces_the_table_and_is_checked(tmp_path: Path, settings: Any) -> None:
    path = tmp_path / "policy.toml"
    path.write_text("[label_fraud_blocks]\nsession = 600\n")
    settings.GATEHOUSE = {**settings.GATEHOUSE, "POLICY_FILE": str(path)}
    assert gatehouse_settings.LABEL_FRAUD_BLOCKS == {"session": 600}
    assert label_block_targets(SNAPSHOT)[0] == [("session", "session", SNAPSHOT["session"])]
    path.write_text("[label_fraud_blocks]\nsession = -1\n")
    settings.GATEHOUSE = {**settings.GATEHOUSE, "POLICY_FILE": str(path)}
    with pytest.raises(SystemCheckError) as raised:
        call_command("check")
    assert 'table [label_fraud_blocks], key "session": -1 is not in (0, ' in str(raised.value)


def test_targets_by_default_and_a_claimed_device_is_skipped() -> None:
    targets, skipped = label_block_targets(SNAPSHOT)
    assert targets == [
        ("session", "session", SNAPSHOT["session"]),
        ("device", "device", "dev-1"),
        ("ip", "cidr", "2001:db8:1:2::/64"),
    ]
    assert skipped == []
    claimed = {**SNAPSHOT, "device": {"id": "dev-1", "verified": False}, "ip_prefix": "0.0.0.0"}
    targets, skipped = label_block_targets(claimed)
    assert [target for target, _kind, _value in targets] == ["session"]
    assert [item.target for item in skipped] == ["device", "ip"]
