"""The admin door (issue 23, points 1 and 6).

Each failed login costs a password hash on the API's workers. Rotating
addresses inside one /64 with random usernames gave about five hashes per
address; a staff account could be kept locked by one request an hour.
Now attempts are counted with the API's limiter before any hash (per IP by
its /64, and one budget for everyone outside ``GATEHOUSE_ADMIN_NETWORKS``),
the admin can be closed to other networks, a username alone is locked only
briefly, the long lockout is per username and address and never extended
by attempts during it, lockout alerts stay within the write budget, and
``purge_expired`` removes old axes records.
"""

import datetime
import io

import pytest
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db.models import Sum
from django.test import Client
from django.utils import timezone

from protection.conf import DEFAULTS
from protection.core.events import SecurityEvent, events_flush
from protection.core.events.record import denial_writer
from tests.support.hashers import CountingHasher

pytestmark = pytest.mark.django_db

LOGIN = "/admin/login/?next=/admin/"
PASSWORD = "correct horse battery staple"
STAFF_NETWORK = "192.0.2.0/24"


@pytest.fixture(autouse=True)
def _counting_hasher(settings):
    settings.PASSWORD_HASHERS = ["tests.support.hashers.CountingHasher"]
    CountingHasher.hashes = 0


@pytest.fixture
def staff():
    user = get_user_model().objects.create_user(
        "ops", password=PASSWORD, is_staff=True, is_superuser=True
    )
    CountingHasher.hashes = 0
    return user


def _door(settings, **values):
    # Generous attempt budgets unless the test is about one of them.
    settings.GATEHOUSE = {
        **settings.GATEHOUSE,
        "AUTO_BLOCK_RULES": [],
        "ADMIN_LOGIN_IP_RATES": ["1000/m"],
        "ADMIN_LOGIN_GLOBAL_RATES": ["1000/m"],
        **values,
    }


def _login(username: str, password: str, ip: str):
    client = Client(REMOTE_ADDR=ip)
    return client, client.post(LOGIN, {"username": username, "password": password})


def test_addresses_rotated_inside_one_64_share_one_budget_and_cost_no_hash_past_it(staff, settings):
    _door(settings, ADMIN_LOGIN_IP_RATES=["10/h"])
    statuses = [
        _login(f"random{n}", "guess", ip=f"2001:db8:1:2::{n + 1:x}")[1].status_code
        for n in range(40)
    ]
    assert statuses[:10] == [200] * 10  # the form again: wrong credentials
    assert set(statuses[10:]) == {429}
    assert CountingHasher.hashes == 10  # not one more than the /64's budget
    events_flush()  # past the write budget, refusals are added up: write them now
    refused = SecurityEvent.objects.filter(kind="admin_login_throttled", reason="admin_login:ip")
    assert refused.aggregate(n=Sum("count"))["n"] == 30
    assert set(refused.values_list("decision", flat=True)) == {"deny"}


def test_the_global_budget_stops_a_spread_flood_but_never_staff_inside(staff, settings):
    _door(settings, ADMIN_NETWORKS=[STAFF_NETWORK], ADMIN_LOGIN_GLOBAL_RATES=["5/h"])
    # ADMIN_NETWORKS set: outsiders cannot even reach the login.
    assert _login("ops", "guess", ip="203.0.113.1")[1].status_code == 403
    settings.GATEHOUSE = {**settings.GATEHOUSE, "ADMIN_NETWORKS": []}
    statuses = [_login(f"u{n}", "guess", ip=f"203.0.113.{n + 1}")[1].status_code for n in range(20)]
    assert statuses.count(200) == 5 and statuses.count(429) == 15
    assert CountingHasher.hashes == 5
    response = _login("ops", PASSWORD, ip="192.0.2.7")[1]
    assert response.status_code == 429  # nobody is inside while ADMIN_NETWORKS is empty
    settings.GATEHOUSE = {**settings.GATEHOUSE, "ADMIN_NETWORKS": [STAFF_NETWORK]}
    client, response = _login("ops", PASSWORD, ip="192.0.2.7")
    assert response.status_code == 302 and client.get("/admin/").status_code == 200


def test_admin_networks_close_every_admin_page_to_other_networks(staff, settings):
    _door(settings, ADMIN_NETWORKS=[STAFF_NETWORK])
    outside = Client(REMOTE_ADDR="198.51.100.20")
    assert outside.get("/admin/login/").status_code == 403
    assert outside.get("/admin/protection/apikey/").status_code == 403
    assert CountingHasher.hashes == 0
    assert Client(REMOTE_ADDR="192.0.2.20").get("/admin/login/").status_code == 200
    # The API is not the admin: unaffected.
    assert outside.get("/api/v1/health").status_code == 200


def test_failures_from_elsewhere_do_not_lock_the_owner_out(staff, settings):
    _door(settings)
    for n in range(5):  # one failure from each of five addresses
        _login("ops", "wrong", ip=f"203.0.113.{n + 1}")
    client, response = _login("ops", PASSWORD, ip="198.51.100.77")
    assert response.status_code == 302 and client.get("/admin/").status_code == 200


def test_the_username_alone_is_locked_briefly_and_not_for_staff_inside(staff, settings):
    _door(settings, ADMIN_LOGIN_USERNAME_RATE="10/15m", ADMIN_NETWORKS=[])
    for n in range(10):
        _login("ops", "wrong", ip=f"203.0.113.{n + 1}")
    before = CountingHasher.hashes
    _, locked = _login("ops", PASSWORD, ip="198.51.100.77")
    assert locked.status_code == 429 and 0 < int(locked["Retry-After"]) <= 15 * 60
    assert CountingHasher.hashes == before  # refused before any hash
    _, again = _login("ops", "wrong", ip="198.51.100.78")
    assert int(again["Retry-After"]) <= int(locked["Retry-After"])  # not extended
    # Staff inside the admin networks are not held by it.
    settings.GATEHOUSE = {
        **settings.GATEHOUSE,
        "ADMIN_NETWORKS": [STAFF_NETWORK],
        "ADMIN_LOGIN_GLOBAL_RATES": DEFAULTS["ADMIN_LOGIN_GLOBAL_RATES"],
    }
    assert _login("ops", PASSWORD, ip="192.0.2.9")[1].status_code == 302


def test_attempts_during_a_lockout_do_not_extend_it(staff, settings):
    _door(settings)
    for _ in range(5):
        _login("ops", "wrong", ip="198.51.100.5")
    locked_at = AccessAttempt.objects.get(username="ops").attempt_time
    for _ in range(4):  # the owner's right password among them
        assert _login("ops", PASSWORD, ip="198.51.100.5")[1].status_code == 429
    assert AccessAttempt.objects.get(username="ops").attempt_time == locked_at


def test_lockout_alerts_stay_within_the_write_budget(staff, settings):
    _door(settings, EVENTS_MAX_WRITES_PER_SECOND=0, EVENTS_FLUSH_INTERVAL=3600)
    for _ in range(9):
        _login("ops", "wrong", ip="198.51.100.6")
    # Nothing written at once: failures and lockout alerts wait, added up.
    assert not SecurityEvent.objects.filter(kind__startswith="admin_").exists()
    kinds = {key[0] for key in denial_writer.pending}
    assert {"admin_login_failed", "admin_locked_out"} <= kinds


def test_purge_expired_removes_old_axes_records(settings):
    now = timezone.now()
    old, recent = now - datetime.timedelta(days=120), now - datetime.timedelta(minutes=5)
    common = {"user_agent": "ua", "ip_address": "198.51.100.1", "http_accept": "*/*"}
    for when in (old, recent):
        rows = [
            AccessAttempt.objects.create(
                username=f"u{when.timestamp()}",
                get_data="",
                post_data="",
                failures_since_start=1,
                path_info="/admin/login/",
                **common,
            ),
            AccessLog.objects.create(username="ops", path_info="/", **common),
            AccessFailureLog.objects.create(
                username="ops", path_info="/", locked_out=False, **common
            ),
        ]
        for row in rows:  # attempt_time is set on creation: move it back
            type(row).objects.filter(pk=row.pk).update(attempt_time=when)
    out = io.StringIO()
    call_command("purge_expired", stdout=out)
    assert "admin login records: 3 removed" in out.getvalue()
    assert AccessAttempt.objects.count() == AccessLog.objects.count() == 1
    assert AccessFailureLog.objects.count() == 1
