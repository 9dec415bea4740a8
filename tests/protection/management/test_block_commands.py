"""block_client / unblock_client / purge_expired, and the duration parser."""

import datetime

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from protection.base.durations import parse_duration
from protection.base.exceptions import ProtectionError
from protection.base.processstate import process_state_reset
from protection.blocks import BlockedClient, block_create, blocks_check
from protection.core.events import SecurityEvent

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "text,seconds",
    [("30s", 30), ("30m", 1800), ("24h", 86400), ("7d", 604800), (" 2W ", 1209600)],
)
def test_parse_duration(text, seconds):
    assert parse_duration(text) == datetime.timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "24", "h", "1.5h", "-3m", "3 days", "24hours"])
def test_parse_duration_rejects_garbage(text):
    with pytest.raises(ValueError):
        parse_duration(text)


def _run(*args):
    from io import StringIO

    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_block_client_ip_for_a_duration():
    output = _run("block_client", "--ip", "::ffff:203.0.113.7", "--for", "24h", "--reason", "abuse")
    block = BlockedClient.objects.get()
    assert (block.kind, block.value, block.reason) == ("ip", "203.0.113.7", "abuse")
    assert abs((block.expires_at - timezone.now()) - datetime.timedelta(hours=24)) < (
        datetime.timedelta(minutes=1)
    )
    assert output.startswith("Blocked ip 203.0.113.7 until ")
    assert SecurityEvent.objects.filter(kind="client_blocked", reason="staff").count() == 1


def test_block_client_permanent_when_no_duration():
    output = _run("block_client", "--cidr", "2001:db8::/48")
    assert BlockedClient.objects.get().expires_at is None
    assert "permanently" in output


@pytest.mark.parametrize(
    "flag,value,kind",
    [
        ("--session", "6f9619ff-8b86-d011-b42d-00cf4fc964ff", "session"),
        ("--device", "dev-1", "device"),
        ("--domain", "spam.example", "email_domain"),
    ],
)
def test_block_client_other_kinds(flag, value, kind):
    _run("block_client", flag, value, "--for", "7d")
    assert BlockedClient.objects.get().kind == kind


def test_block_client_key_by_public_id(api_key):
    key, _raw = api_key
    _run("block_client", "--key", key.public_id)
    assert BlockedClient.objects.get().value == key.public_id


@pytest.mark.parametrize(
    "args,message",
    [
        (["--ip", "300.1.1.1"], "Invalid ip: not an IP address"),
        (["--ip", "1.2.3.4", "--for", "forever"], "Invalid --for: Invalid duration 'forever'"),
        (["--ip", "1.2.3.4", "--for", "0s"], "Invalid ip: A block's duration must be positive"),
        (["--cidr", "10.0.0.0/99"], "Invalid cidr"),
        (["--domain", "nodot"], "Invalid email_domain"),
    ],
)
def test_block_client_bad_input_is_a_one_line_error(args, message):
    with pytest.raises(CommandError) as error:
        _run("block_client", *args)
    assert str(error.value).startswith(message)
    assert "\n" not in str(error.value)
    assert not BlockedClient.objects.exists()


def test_block_client_needs_exactly_one_selector():
    with pytest.raises(CommandError):
        _run("block_client", "--ip", "1.2.3.4", "--cidr", "10.0.0.0/8")
    with pytest.raises(CommandError):
        _run("block_client")


@pytest.mark.subprocess
def test_bad_input_exits_non_zero_from_the_shell(tmp_path):
    import os
    import subprocess
    import sys

    from tests.support.paths import ROOT as root

    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings"}
    result = subprocess.run(
        [sys.executable, "manage.py", "block_client", "--ip", "not-an-ip"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert result.stderr.strip().splitlines()[-1] == "CommandError: Invalid ip: not an IP address"


def test_unblock_client_lifts_active_blocks():
    block_create(kind="ip", value="203.0.113.7")
    output = _run("unblock_client", "--ip", "203.0.113.7")
    assert output.strip() == "Lifted 1 block(s) on ip 203.0.113.7"
    block = BlockedClient.objects.get()
    assert block.lifted_at is not None and not block.is_active()
    assert SecurityEvent.objects.filter(kind="client_unblocked").count() == 1


def test_unblock_client_with_nothing_to_lift_succeeds_and_says_so():
    # Idempotent for scripts: running it twice is not an error.
    block_create(kind="ip", value="203.0.113.8")
    _run("unblock_client", "--ip", "203.0.113.8")
    output = _run("unblock_client", "--ip", "203.0.113.8")
    assert output.strip() == "No active block for ip 203.0.113.8: nothing to lift"
    assert _run("unblock_client", "--ip", "198.51.100.1", "-v", "0") == ""


def test_unblock_client_still_refuses_a_malformed_value():
    with pytest.raises(CommandError, match="Invalid ip"):
        _run("unblock_client", "--ip", "not-an-ip")


def test_block_client_is_silent_at_verbosity_0():
    assert _run("block_client", "--ip", "203.0.113.9", "-v", "0") == ""
    assert BlockedClient.objects.get().value == "203.0.113.9"


def _old_block_and_event(now):
    block_create(
        kind="ip",
        value="192.0.2.1",
        duration=datetime.timedelta(hours=1),
        now=now - datetime.timedelta(days=40),
    )
    SecurityEvent.objects.all().delete()
    SecurityEvent.objects.create(
        kind="old", decision="deny", created_at=now - datetime.timedelta(days=91)
    )


def test_purge_expired_dry_run_counts_and_deletes_nothing():
    _old_block_and_event(timezone.now())
    output = _run("purge_expired", "--dry-run")
    assert "blocks: 1 would be removed" in output
    assert "events: 1 would be removed" in output
    assert output.strip().splitlines()[-1] == "dry run: nothing was deleted"
    assert BlockedClient.objects.count() == 1
    assert SecurityEvent.objects.filter(kind="old").count() == 1
    assert "blocks: 1 removed" in _run("purge_expired")  # the real run agrees


def test_purge_expired_verbosity(settings):
    _old_block_and_event(timezone.now())
    assert _run("purge_expired", "--dry-run", "-v", "0") == ""
    detailed = _run("purge_expired", "--dry-run", "-v", "2")
    assert detailed.splitlines()[0].startswith("keeping events for 7776000s")
    assert _run("purge_expired", "-v", "0") == ""
    assert BlockedClient.objects.count() == 0


def test_purge_expired_removes_old_blocks_and_old_events(settings):
    now = timezone.now()
    long_ago = now - datetime.timedelta(days=40)
    old = block_create(
        kind="ip", value="192.0.2.1", duration=datetime.timedelta(hours=1), now=long_ago
    )
    recent = block_create(
        kind="ip",
        value="192.0.2.2",
        duration=datetime.timedelta(hours=1),
        now=now - datetime.timedelta(days=2),
    )
    active = block_create(kind="ip", value="192.0.2.3")
    SecurityEvent.objects.all().delete()
    SecurityEvent.objects.create(
        kind="old", decision="deny", created_at=now - datetime.timedelta(days=91)
    )
    SecurityEvent.objects.create(
        kind="new", decision="deny", created_at=now - datetime.timedelta(days=89)
    )
    output = _run("purge_expired")
    assert "blocks: 1 removed" in output and "events: 1 removed" in output
    assert set(BlockedClient.objects.values_list("pk", flat=True)) == {recent.pk, active.pk}
    assert old.pk not in BlockedClient.objects.values_list("pk", flat=True)
    assert list(SecurityEvent.objects.values_list("kind", flat=True)) == ["new"]


def test_event_retention_is_a_setting(settings):
    settings.GATEHOUSE = {**settings.GATEHOUSE, "EVENTS_RETENTION": 3600}
    SecurityEvent.objects.create(
        kind="hour-old", decision="deny", created_at=timezone.now() - datetime.timedelta(hours=2)
    )
    assert "events: 1 removed" in _run("purge_expired")


def blocks_is_blocked(ip: str) -> bool:
    process_state_reset()  # what a fresh process would see
    try:
        blocks_check(ip=ip)
    except ProtectionError:
        return True
    return False


def test_ipv6_ip_block_covers_the_clients_slash_64():
    # The docs group IPv6 clients by /64; a one-address block was stepped around.
    output = _run("block_client", "--ip", "2001:db8:1:2:aaaa::7", "--for", "1h")
    block = BlockedClient.objects.get()
    assert (block.kind, block.value) == ("cidr", "2001:db8:1:2::/64")
    assert output.startswith("Blocked cidr 2001:db8:1:2::/64 until ")
    assert blocks_is_blocked("2001:db8:1:2:ffff::1")
    assert not blocks_is_blocked("2001:db8:1:3::1")
    assert "Lifted 1" in _run("unblock_client", "--ip", "2001:db8:1:2::99")
    assert not blocks_is_blocked("2001:db8:1:2:aaaa::7")


@pytest.mark.parametrize("network", ["0.0.0.0/0", "10.0.0.0/8", "::/0", "2001:db8::/32"])
def test_broad_networks_need_force(network):
    with pytest.raises(CommandError, match="--force"):
        _run("block_client", "--cidr", network)
    assert not BlockedClient.objects.exists()
    _run("block_client", "--cidr", network, "--force", "--for", "1m")
    assert BlockedClient.objects.get().value == network


@pytest.mark.parametrize("network", ["10.1.0.0/16", "2001:db8:1::/48", "203.0.113.0/24"])
def test_networks_up_to_the_configured_prefix_need_no_force(network, settings):
    _run("block_client", "--cidr", network)
    assert BlockedClient.objects.get().value == network
    BlockedClient.objects.all().delete()
    settings.GATEHOUSE = {
        **settings.GATEHOUSE, "BLOCKS_BROADEST_PREFIX_IPV4": 28, "BLOCKS_BROADEST_PREFIX_IPV6": 56,
    }  # fmt: skip
    with pytest.raises(CommandError, match="--force"):
        _run("block_client", "--cidr", network, "--for", "1h")
