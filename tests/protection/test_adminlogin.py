"""Admin and staff logins: attempts limited per IP, failures per username (briefly) and
per username and IP (for the cool-off), and recorded."""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from protection.core.events import SecurityEvent

pytestmark = pytest.mark.django_db

LOGIN = "/admin/login/?next=/admin/"
PASSWORD = "correct horse battery staple"


@pytest.fixture(autouse=True)
def _fast_hasher(settings):
    # Dozens of logins: PBKDF2's deliberate cost would dominate the test's time.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # These tests are about lockouts: the attempt budgets (tests/protection/
    # adminlogin) stay out of the way, except 10 an hour per address.
    settings.GATEHOUSE = {
        **settings.GATEHOUSE,
        "ADMIN_LOGIN_IP_RATES": ["10/h"],
        "ADMIN_LOGIN_GLOBAL_RATES": ["1000/m"],
    }


@pytest.fixture
def staff():
    return get_user_model().objects.create_user(
        "ops", password=PASSWORD, is_staff=True, is_superuser=True
    )


def _login(username: str, password: str, ip: str = "198.51.100.7"):
    client = Client(REMOTE_ADDR=ip)
    response = client.post(LOGIN, {"username": username, "password": password})
    return client, response


def _logged_in(client: Client) -> bool:
    return client.get("/admin/").status_code == 200


def test_thirty_wrong_passwords_then_the_right_one_is_refused(staff, settings):
    statuses = [_login("ops", f"guess-{n}")[1].status_code for n in range(30)]
    assert statuses[:4] == [200] * 4  # the form again, with its error
    assert set(statuses[5:]) == {429}  # locked out from the fifth failure on
    client, response = _login("ops", PASSWORD)
    assert response.status_code == 429
    assert not _logged_in(client)


def test_the_username_is_locked_briefly_whatever_ip_the_guesses_come_from(staff):
    # ADMIN_LOGIN_USERNAME_RATE (10 per 15 minutes): a short lockout of the
    # username alone (the long one is per username and address).
    for n in range(10):
        _login("ops", "wrong", ip=f"203.0.113.{n + 1}")
    client, response = _login("ops", PASSWORD, ip="192.0.2.99")
    assert response.status_code == 429
    assert int(response["Retry-After"]) <= 15 * 60
    assert not _logged_in(client)


def test_one_ip_guessing_many_usernames_is_limited(staff):
    # ADMIN_LOGIN_IP_RATES (here 10 an hour per address, IPv6 per /64).
    for n in range(10):
        _login(f"user{n}", "wrong", ip="203.0.113.50")
    client, response = _login("ops", PASSWORD, ip="203.0.113.50")
    assert response.status_code == 429
    # Another client may still log in to the (not locked) account.
    client, response = _login("ops", PASSWORD, ip="192.0.2.1")
    assert response.status_code == 302 and _logged_in(client)


def test_a_success_before_the_limit_resets_the_count(staff):
    for _ in range(4):
        _login("ops", "wrong")
    client, response = _login("ops", PASSWORD)
    assert response.status_code == 302 and _logged_in(client)
    for _ in range(4):
        _login("ops", "wrong")
    assert _login("ops", PASSWORD)[1].status_code == 302


def test_failures_and_lockouts_are_security_events_on_the_dashboard(staff):
    for _ in range(2):
        _login("ops", "wrong", ip="198.51.100.9")
    _login("not-a-user", "hunter2-typed-as-username", ip="198.51.100.9")
    for _ in range(3):
        _login("ops", "wrong", ip="198.51.100.9")
    failed = SecurityEvent.objects.filter(kind="admin_login_failed")
    assert failed.count() >= 5
    assert {event.client_ip for event in failed} == {"198.51.100.9"}
    assert {event.decision for event in failed} == {"deny"}
    usernames = {event.details["username"] for event in failed}
    assert "ops" in usernames
    assert "not-a-user" not in usernames  # unknown names only as a digest
    assert any(name.startswith("digest:") for name in usernames)
    locked = SecurityEvent.objects.filter(kind="admin_locked_out")
    assert locked.exists()
    assert locked.first().client_ip == "198.51.100.9"

    dashboard = Client()
    dashboard.force_login(staff)
    page = dashboard.get("/admin/protection/securityevent/dashboard/").content.decode()
    assert "admin_login_failed" in page
