"""The dashboard's session starts by risk tier: issued, refused and dry run per
tier, from the session start events' details["risk"], through real requests."""

import datetime
import re

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from protection.admin.dashboard import session_tiers
from protection.core.events import SecurityEvent
from tests.support.challenges import easy_pow_fixture, solve  # noqa: F401

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("easy_pow")]


def _start(client, raw, ip, **body):
    return client.post(
        "/api/v1/sessions", body, format="json", HTTP_X_API_KEY=raw, REMOTE_ADDR=ip
    ).status_code


def _solved(client, raw, ip):
    answer = client.post("/api/v1/challenges", HTTP_X_API_KEY=raw, REMOTE_ADDR=ip)
    return solve(answer.json()["altcha"])


def test_recent_session_starts_are_counted_by_tier(client, make_api_key):
    _key, raw = make_api_key(captcha="turnstile")
    assert _start(client, raw, "203.0.113.1", altcha=_solved(client, raw, "203.0.113.1")) == 201
    assert _start(client, raw, "203.0.113.2", altcha=_solved(client, raw, "203.0.113.2")) == 201
    for _ in range(15):  # this address: high
        client.post("/api/v1/challenges", HTTP_X_API_KEY="gh_pub_nope", REMOTE_ADDR="203.0.113.3")
    assert _start(client, raw, "203.0.113.3", altcha=_solved(client, raw, "203.0.113.3")) == 403
    SecurityEvent.objects.create(  # a day and more ago: not counted
        kind="session_issued",
        decision="allow",
        details={"risk": {"stage": "session", "tier": "low"}},
        created_at=timezone.now() - datetime.timedelta(hours=25),
    )
    rows = session_tiers(since=timezone.now() - datetime.timedelta(hours=24))
    assert rows == [
        {"tier": "low", "issued": 2, "refused": 0, "dry_run": 0},
        {"tier": "elevated", "issued": 0, "refused": 0, "dry_run": 0},
        {"tier": "high", "issued": 0, "refused": 1, "dry_run": 0},
        {"tier": "critical", "issued": 0, "refused": 0, "dry_run": 0},
    ]

    admin = get_user_model().objects.create_superuser("root", "root@example.com", "pw-123456!")
    staff = Client()
    staff.force_login(admin)
    page = staff.get("/admin/protection/securityevent/dashboard/").content.decode()
    table = page[page.index('id="session-tiers"') :]
    table = table[: table.index("</table>")]
    cells = re.findall(r"<tr><td>(\w+)</td><td>(\d+)</td><td>(\d+)</td><td>(\d+)</td></tr>", table)
    assert cells[0] == ("low", "2", "0", "0") and cells[2] == ("high", "0", "1", "0")
