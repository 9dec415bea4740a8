"""A management command prints its results, not the log lines of the events it records."""

import json

import pytest

from tests.support.processes import manage

pytestmark = pytest.mark.server


def test_a_command_writes_no_event_lines_unless_asked(env_for):
    quiet = manage(env_for(), "create_api_key", "--name", "quiet")
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stderr == ""
    assert quiet.stdout.strip().splitlines()[-1].startswith("gh_pub_")

    asked = manage(env_for(GATEHOUSE_LOG_LEVEL="INFO"), "create_api_key", "--name", "loud")
    assert asked.returncode == 0, asked.stderr
    events = [json.loads(line) for line in asked.stderr.splitlines() if line.strip()]
    assert [(e["event_kind"], e["event_reason"]) for e in events] == [
        ("api_key_lifecycle", "created")
    ]


def test_make_runs_text_format_is_plain_lines(env_for):
    shown = manage(
        env_for(GATEHOUSE_LOG_FORMAT="text", GATEHOUSE_LOG_LEVEL="INFO"),
        "create_api_key",
        "--name",
        "text",
    )
    line = shown.stderr.strip()
    assert line and not line.startswith("{"), shown.stderr
    assert "INFO gatehouse.events [None] security event kind=api_key_lifecycle" in line
