"""The admin login is no CPU sink for the API's workers (issue 23, point 1), through
nginx as the template configures it, with 4 gunicorn workers.

A flood of login attempts with random usernames from many addresses used
to cost one password hash each (8 streams moved health's median from 6 ms
to 718 ms). Now nginx refuses an address's attempts past 10 a minute, and
gatehouse counts every attempt before any hash: per address (IPv6 by /64)
and one budget for everyone outside GATEHOUSE_ADMIN_NETWORKS; set, those
networks alone reach the admin. ``bench/admin_login_flood.py`` measures
health's latency under the flood.
"""

import json
import time

import pytest
from django.contrib.auth import get_user_model
from django.db.models import Sum

from protection.core.events import SecurityEvent
from tests.support.adminlogin import LoginFlood, admin_login, health_latencies
from tests.support.stack import production_stack

pytestmark = [pytest.mark.server, pytest.mark.redis, pytest.mark.postgres]

PASSWORD = "correct horse battery staple"


def _hashes() -> int:
    # One admin_login_failed per wrong password: one hash each.
    rows = SecurityEvent.objects.filter(kind="admin_login_failed")
    return rows.aggregate(n=Sum("count"))["n"] or 0


def test_a_spread_login_flood_costs_at_most_the_global_budget_of_hashes(transactional_db, tmp_path):
    env = {
        "GATEHOUSE_TEST_SETTINGS": json.dumps(
            {"ADMIN_LOGIN_GLOBAL_RATES": ["8/m"], "EVENTS_MAX_WRITES_PER_SECOND": 1000}
        )
    }
    with production_stack(tmp_path, env=env) as stack:
        with LoginFlood(stack.port, streams=16, rotate=True) as flood:
            time.sleep(2)
            answered = health_latencies(stack.port, source="127.0.2.1", seconds=3)
        assert answered  # health kept answering (bench/admin_login_flood.py times it)
        time.sleep(1.5)  # the last attempts' events are written
        assert flood.statuses[429] > 0  # nginx's and gatehouse's refusals
        # At most 8 a minute (two windows at worst), however many addresses.
        assert 0 < _hashes() <= 16, flood.statuses
        assert SecurityEvent.objects.filter(
            kind="admin_login_throttled", reason="admin_login:global"
        ).exists()


def test_admin_networks_close_the_admin_to_everyone_else(transactional_db, tmp_path, settings):
    # A hash the production server can check (the tests' own hasher is MD5, for speed).
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]
    get_user_model().objects.create_user("ops", password=PASSWORD, is_staff=True)
    env = {"GATEHOUSE_ADMIN_NETWORKS": "127.0.9.0/24"}
    with production_stack(tmp_path, env=env) as stack:
        assert admin_login(stack.port, source="127.0.1.7", username="ops", password=PASSWORD) == 403
        assert admin_login(stack.port, source="127.0.9.7", username="ops", password=PASSWORD) == 302
    assert _hashes() == 0
