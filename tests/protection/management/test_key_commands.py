"""The key management commands through call_command, with captured stdout."""

import datetime
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from protection.base import crypto
from protection.base.durations import parse_duration
from protection.base.exceptions import ProtectionError
from protection.core.events import SecurityEvent
from protection.keys import ApiKey, api_key_revoke, api_key_rotate, api_key_verify

pytestmark = pytest.mark.django_db


def run(name: str, *args: str) -> list[str]:
    out = StringIO()
    call_command(name, *args, stdout=out)
    return out.getvalue().splitlines()


def fails(name: str, *args: str) -> str:
    with pytest.raises(CommandError) as excinfo:
        run(name, *args)
    message = str(excinfo.value)
    assert "\n" not in message and message
    return message


# --- durations ------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("30s", datetime.timedelta(seconds=30)),
        ("30m", datetime.timedelta(minutes=30)),
        ("24h", datetime.timedelta(hours=24)),
        ("7d", datetime.timedelta(days=7)),
        ("2w", datetime.timedelta(weeks=2)),
        ("0s", datetime.timedelta(0)),
        (" 12H ", datetime.timedelta(hours=12)),
    ],
)
def test_parse_duration(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "30", "h", "-1h", "1.5h", "1y", "1h30m", "10 d", None])
def test_parse_duration_refuses(text):
    with pytest.raises(ValueError):
        parse_duration(text)


# --- create ---------------------------------------------------------------------


def test_create_prints_summary_then_the_raw_key_alone_on_the_last_line():
    lines = run(
        "create_api_key",
        "--name", "partner server",
        "--kind", "secret",
        "--scopes", "lookup,create",
        "--origins", "https://a.example,https://b.example",
        "--require", "none",
        "--expires", "30d",
    )  # fmt: skip
    raw = lines[-1]
    parsed = crypto.parse_raw_key(raw)
    assert parsed is not None and parsed.kind == "secret"
    key = ApiKey.objects.get()
    assert key.public_id == parsed.public_id
    assert (key.name, key.kind, key.scopes, key.allowed_origins, key.required_verifications) == (
        "partner server",
        "secret",
        ["lookup", "create"],
        ["https://a.example", "https://b.example"],
        [],
    )
    remaining = key.expires_at - timezone.now()
    assert datetime.timedelta(days=29, hours=23) < remaining <= datetime.timedelta(days=30)
    summary = "\n".join(lines[:-1])
    assert key.public_id in summary and "lookup, create" in summary
    assert raw not in summary and parsed.secret not in summary
    assert api_key_verify(raw_key=raw).pk == key.pk


def test_create_defaults():
    raw = run("create_api_key", "--name", "web")[-1]
    key = api_key_verify(raw_key=raw)
    assert key.kind == "publishable" and key.scopes == ["session", "lookup", "create"]
    assert key.required_verifications == ["pow"] and key.expires_at is None


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--name", "x", "--scopes", "lookup,admin"], "Unknown scope"),
        (["--name", "x", "--origins", "https://a.example/path"], "Invalid origin"),
        (["--name", "x", "--origins", "null"], "Invalid origin"),
        (["--name", "x", "--require", "captcha"], "Unknown verification"),
        (["--name", "x", "--expires", "soon"], "Invalid duration"),
        (["--name", "  "], "needs a name"),
        (["--name", "x", "--kind", "root"], "invalid choice"),
    ],
)
def test_create_refuses_bad_arguments(args, fragment):
    assert fragment in fails("create_api_key", *args)
    assert not ApiKey.objects.exists()


# --- rotate ---------------------------------------------------------------------


def test_rotate_by_name_prints_the_new_raw_key_last(make_api_key):
    old, old_raw = make_api_key(name="ios", scopes=["session"])
    lines = run("rotate_api_key", "ios", "--grace", "2h")
    new = api_key_verify(raw_key=lines[-1])
    assert new.replaces_id == old.pk and new.scopes == ["session"]
    old.refresh_from_db()
    assert old.expires_at - old.rotated_at == datetime.timedelta(hours=2)
    assert old.public_id in lines[0] and new.public_id in lines[0]
    assert old_raw not in "\n".join(lines) and lines[-1] not in "\n".join(lines[:-1])


def test_rotate_by_public_id_with_default_grace(api_key):
    key, _ = api_key
    api_key_verify(raw_key=run("rotate_api_key", key.public_id)[-1])
    key.refresh_from_db()
    assert key.expires_at - key.rotated_at == datetime.timedelta(hours=24)


def test_rotate_errors(make_api_key):
    assert "No active API key" in fails("rotate_api_key", "nobody")
    make_api_key(name="twin")
    make_api_key(name="twin")
    assert "use the public id" in fails("rotate_api_key", "twin")
    revoked, _ = make_api_key(name="gone")
    api_key_revoke(api_key=revoked, reason="leaked")
    assert "revoked key cannot be rotated" in fails("rotate_api_key", revoked.public_id)
    # Names only find active keys.
    assert "use the public id for rotated" in fails("rotate_api_key", "gone")
    live, _ = make_api_key(name="live")
    assert "Invalid duration" in fails("rotate_api_key", "live", "--grace", "forever")
    api_key_rotate(api_key=live)
    assert "already has an active successor" in fails("rotate_api_key", live.public_id)
    assert ApiKey.objects.filter(replaces=live).count() == 1


# --- revoke ---------------------------------------------------------------------


def test_revoke(api_key):
    key, raw = api_key
    lines = run("revoke_api_key", key.public_id, "--reason", "leaked in logs")
    assert lines == [lines[0]] and key.public_id in lines[0] and "leaked in logs" in lines[0]
    with pytest.raises(ProtectionError):
        api_key_verify(raw_key=raw)
    event = SecurityEvent.objects.get(reason="revoked")
    assert event.details["reason"] == "leaked in logs"
    assert "already revoked" in fails("revoke_api_key", key.public_id, "--reason", "again")
    assert ApiKey.objects.get(pk=key.pk).revoked_reason == "leaked in logs"


def test_revoke_errors(api_key):
    assert "No active API key" in fails("revoke_api_key", "nope", "--reason", "x")
    assert "needs a reason" in fails("revoke_api_key", api_key[0].public_id, "--reason", " ")
    with pytest.raises(CommandError):  # --reason is required
        run("revoke_api_key", api_key[0].public_id)


# --- list -----------------------------------------------------------------------


def test_list_is_a_table_without_secrets(make_api_key):
    web, web_raw = make_api_key(name="web", scopes=["lookup"])
    old, old_raw = make_api_key(name="partner", kind="secret")
    api_key_rotate(api_key=old)
    gone, gone_raw = make_api_key(name="gone")
    api_key_revoke(api_key=gone, reason="x")
    lines = run("list_api_keys")
    assert lines[0].split() == ["NAME", "KIND", "PUBLIC", "ID", "SCOPES", "STATUS", "LAST",
                                "USED", "EXPIRES"]  # fmt: skip
    assert len(lines) == 5
    table = "\n".join(lines)
    by_id = {line.split()[2]: line for line in lines[1:]}
    assert by_id[web.public_id].split()[3:5] == ["lookup", "active"]
    assert by_id[old.public_id].split()[4] == "grace"
    assert by_id[gone.public_id].split()[4] == "revoked"
    for raw in (web_raw, old_raw, gone_raw):
        assert raw not in table and crypto.parse_raw_key(raw).secret not in table
    for key in ApiKey.objects.all():
        assert key.secret_hash not in table
    revoked_only = run("list_api_keys", "--status", "revoked")
    assert len(revoked_only) == 2 and gone.public_id in revoked_only[1]


def test_list_when_empty(db):
    assert run("list_api_keys")[-1] == "(no API keys)"


@pytest.mark.parametrize(
    "command, args",
    [
        ("create_api_key", ["--name", "far future", "--expires", "999999w"]),
        ("block_client", ["--ip", "192.0.2.1", "--for", "999999w", "--reason", "x"]),
    ],
)
def test_an_absurd_duration_is_a_one_line_error_not_a_traceback(command, args):
    with pytest.raises(CommandError, match="at most 10 years"):
        call_command(command, *args, stdout=StringIO(), stderr=StringIO())


# --- scriptable output: --json and -v -----------------------------------------


def test_create_json_is_one_object_with_the_raw_key():
    import json

    lines = run(
        "create_api_key", "--name", "ci app", "--scopes", "session,lookup",
        "--origins", "https://a.example", "--expires", "30d", "--json",
    )  # fmt: skip
    assert len(lines) == 1
    created = json.loads(lines[0])
    api_key = ApiKey.objects.get()
    assert created["public_id"] == api_key.public_id
    assert created["name"] == "ci app" and created["kind"] == "publishable"
    assert created["scopes"] == ["session", "lookup"]
    assert created["allowed_origins"] == ["https://a.example"]
    assert created["requires"] == ["pow"]
    assert created["expires_at"].startswith(str(api_key.expires_at.date()))
    assert api_key_verify(raw_key=created["key"]).pk == api_key.pk


def test_create_at_verbosity_0_prints_only_the_raw_key():
    lines = run("create_api_key", "--name", "quiet", "-v", "0")
    assert len(lines) == 1
    assert api_key_verify(raw_key=lines[0]).name == "quiet"


def test_list_json_has_every_key_and_no_secret(make_api_key):
    import json

    active, raw = make_api_key(name="active")
    revoked, _ = make_api_key(name="revoked")
    api_key_revoke(api_key=revoked, reason="test")
    output = "\n".join(run("list_api_keys", "--json"))
    listed = json.loads(output)
    assert [(k["name"], k["status"]) for k in listed] == [
        ("active", "active"),
        ("revoked", "revoked"),
    ]
    assert listed[0]["public_id"] == active.public_id
    assert set(listed[0]) >= {"kind", "scopes", "expires_at", "last_used_at", "allowed_origins"}
    assert "key" not in listed[0]
    assert raw not in output and active.secret_hash not in output
    only_revoked = json.loads("\n".join(run("list_api_keys", "--json", "--status", "revoked")))
    assert [k["name"] for k in only_revoked] == ["revoked"]


def test_list_json_when_empty_is_an_empty_array(db):
    assert run("list_api_keys", "--json") == ["[]"]


def test_list_verbosity_drops_or_adds_columns(make_api_key):
    make_api_key(name="one", allowed_origins="https://a.example")
    quiet = run("list_api_keys", "-v", "0")
    assert len(quiet) == 1 and quiet[0].startswith("one ")
    detailed = run("list_api_keys", "-v", "2")
    assert "ORIGINS" in detailed[0] and "https://a.example" in detailed[1]


def test_revoke_and_rotate_at_verbosity_0(make_api_key):
    first, _ = make_api_key(name="first")
    assert run("revoke_api_key", first.public_id, "--reason", "x", "-v", "0") == []
    second, _ = make_api_key(name="second")
    lines = run("rotate_api_key", second.public_id, "-v", "0")
    assert len(lines) == 1
    assert api_key_verify(raw_key=lines[0]).replaces_id == second.pk
