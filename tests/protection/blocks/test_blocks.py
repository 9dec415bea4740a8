"""Blocks: value spelling, matching (IPv4-mapped, CIDR edges, 10,000 rules),
the check with its hit counting, expiry, lifting and cross-process refresh."""

import datetime
import ipaddress
import random
import time
import uuid
from unittest.mock import patch

import pytest
from django.urls import path
from django.utils import timezone
from rest_framework.response import Response
from rest_framework.views import APIView

from config.urls import urlpatterns as project_urlpatterns
from protection.authentication import SessionTokenAuthentication
from protection.base.exceptions import ProtectionError
from protection.blocks import (
    BlockedClient,
    block_create,
    block_lift,
    block_value_normalize,
    blocks_check,
    blocks_flush_hits,
)
from protection.blocks.ruleset import (
    BlockRegistry,
    blocks_version_bump,
    compile_blocks,
    registry,
)
from protection.core.events import SecurityEvent

pytestmark = pytest.mark.django_db

VIEW_CALLS = []


class _SessionView(APIView):
    authentication_classes = [SessionTokenAuthentication]
    permission_classes: list = []

    def post(self, request):
        VIEW_CALLS.append(1)
        return Response({"ok": True})


urlpatterns = [path("api/test/session", _SessionView.as_view()), *project_urlpatterns]


@pytest.fixture(autouse=True)
def _immediate(settings):
    settings.GATEHOUSE = {
        **settings.GATEHOUSE,
        "BLOCKS_HIT_FLUSH_INTERVAL": 0,
        "AUTO_BLOCK_RULES": [],
    }
    VIEW_CALLS.clear()


def _blocked(**kwargs) -> bool:
    try:
        blocks_check(**kwargs)
    except ProtectionError as exc:
        assert exc.code == "blocked"
        return True
    return False


@pytest.mark.parametrize(
    "kind,value,expected",
    [
        ("ip", " ::ffff:192.0.2.1 ", "192.0.2.1"),
        ("ip", "2001:DB8::0001", "2001:db8::1"),
        ("cidr", "10.1.2.3/8", "10.0.0.0/8"),
        ("cidr", "::ffff:10.0.0.0/104", "10.0.0.0/8"),
        ("cidr", "2001:db8:abcd::1/48", "2001:db8:abcd::/48"),
        ("email_domain", "@Mail.Example.COM.", "mail.example.com"),
        ("email_domain", "bücher.example", "xn--bcher-kva.example"),
        ("session", "6F9619FF-8B86-D011-B42D-00CF4FC964FF", "6f9619ff-8b86-d011-b42d-00cf4fc964ff"),
        ("device", "  device-123 ", "device-123"),
        ("api_key", "AbCdEfGh1234", "AbCdEfGh1234"),
    ],
)
def test_values_are_stored_in_one_canonical_spelling(kind, value, expected):
    assert block_value_normalize(kind, value) == expected


@pytest.mark.parametrize(
    "kind,value",
    [
        ("ip", "999.1.1.1"),
        ("ip", "10.0.0.0/8"),
        ("cidr", "10.0.0.0/33"),
        ("cidr", "example.com"),
        ("email_domain", "localhost"),
        ("email_domain", "-bad-.com"),
        ("session", "not-a-uuid"),
        ("api_key", "short"),
        ("device", "x" * 129),
        ("planet", "earth"),
        ("ip", ""),
    ],
)
def test_malformed_values_are_refused(kind, value):
    with pytest.raises(ValueError):
        block_value_normalize(kind, value)


def test_full_api_key_is_reduced_to_its_public_id(api_key):
    key, raw = api_key
    assert block_value_normalize("api_key", raw) == key.public_id


def test_ipv4_block_matches_its_ipv4_mapped_spelling():
    block_create(kind="ip", value="192.0.2.1")
    assert _blocked(ip="::ffff:192.0.2.1")
    assert _blocked(ip="192.0.2.1")
    assert not _blocked(ip="192.0.2.2")


def test_ipv4_mapped_block_matches_plain_ipv4():
    block_create(kind="ip", value="::ffff:198.51.100.7")
    assert _blocked(ip="198.51.100.7")


@pytest.mark.parametrize(
    "network,inside,outside",
    [
        ("203.0.113.0/24", ["203.0.113.0", "203.0.113.255"], ["203.0.112.255", "203.0.114.0"]),
        ("203.0.113.8/29", ["203.0.113.8", "203.0.113.15"], ["203.0.113.7", "203.0.113.16"]),
        ("203.0.113.9/32", ["203.0.113.9"], ["203.0.113.8", "203.0.113.10"]),
        ("0.0.0.0/0", ["1.1.1.1", "255.255.255.255", "::ffff:8.8.8.8"], ["2001:db8::1"]),
        (
            "2001:db8::/32",
            ["2001:db8::", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"],
            ["2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", "2001:db9::", "32.1.13.184"],
        ),
        ("2001:db8::1/128", ["2001:db8::1"], ["2001:db8::", "2001:db8::2"]),
        ("::ffff:10.0.0.0/104", ["10.255.255.255", "::ffff:10.0.0.1"], ["11.0.0.0"]),
    ],
)
def test_cidr_edges(network, inside, outside):
    block_create(kind="cidr", value=network, force=True)  # some are broader than the default
    for ip in inside:
        assert _blocked(ip=ip), ip
    for ip in outside:
        assert not _blocked(ip=ip), ip


def test_nested_networks_match_through_expired_inner_rule():
    now = timezone.now()
    compiled = compile_blocks(
        [
            (1, "cidr", "10.0.0.0/8", None),
            (2, "cidr", "10.1.0.0/16", (now - datetime.timedelta(hours=1)).timestamp()),
            (3, "cidr", "10.1.2.0/24", None),
            (4, "ip", "10.1.3.4", None),
            (5, "cidr", "10.2.0.0/16", None),
        ]
    )
    ts = now.timestamp()
    assert compiled.match_ip("10.1.2.3", ts) == 3
    assert compiled.match_ip("10.1.3.4", ts) == 4
    assert compiled.match_ip("10.1.9.9", ts) == 1  # inner /16 expired, outer /8 still holds
    assert compiled.match_ip("10.3.0.1", ts) == 1
    assert compiled.match_ip("11.0.0.1", ts) is None


def test_ten_thousand_rules_match_like_a_linear_scan():
    rng = random.Random(7)
    rows, networks = [], []
    for i in range(10_000):
        prefix = rng.choice([8, 16, 20, 24, 28, 32])
        network = ipaddress.IPv4Network((rng.getrandbits(32), prefix), strict=False)
        rows.append((i, "cidr", str(network), None))
        networks.append((i, network))
    compiled = compile_blocks(rows)
    for _ in range(500):
        address = ipaddress.IPv4Address(rng.getrandbits(32))
        expected = {i for i, network in networks if address in network}
        got = compiled.match_ip(str(address), 0)
        assert (got is None) == (not expected)
        assert got is None or got in expected


def test_key_session_device_and_domain_blocks(api_key, make_session):
    key, _raw = api_key
    issued = make_session(key, device_id="dev-1")
    other = make_session(key)
    assert not _blocked(api_key=key, session=issued.session)
    block_create(kind="device", value="dev-1")
    assert _blocked(session=issued.session)  # the session's device is checked too
    assert _blocked(device_id="dev-1")
    assert not _blocked(session=other.session)
    block_create(kind="session", value=str(other.session.id))
    assert _blocked(session=other.session.id)
    block_create(kind="api_key", value=key.public_id)
    assert _blocked(api_key=key) and _blocked(api_key=key.public_id)
    block_create(kind="email_domain", value="spam.example")
    assert _blocked(email_domain="spam.example")
    assert _blocked(email_domain="user@mx.Spam.Example")
    assert not _blocked(email_domain="notspam.example")


def test_expired_and_lifted_blocks_do_not_apply():
    past = timezone.now() - datetime.timedelta(hours=2)
    block_create(kind="ip", value="192.0.2.50", duration=datetime.timedelta(hours=1), now=past)
    assert not _blocked(ip="192.0.2.50")
    block = block_create(kind="ip", value="192.0.2.51")
    assert _blocked(ip="192.0.2.51")
    block_lift(block=block)
    assert not _blocked(ip="192.0.2.51")


def test_blocking_again_extends_rather_than_duplicates():
    first = block_create(kind="ip", value="192.0.2.60", duration=datetime.timedelta(hours=1))
    again = block_create(kind="ip", value="192.0.2.60", duration=datetime.timedelta(days=1))
    assert again.pk == first.pk
    assert again.expires_at - first.created_at >= datetime.timedelta(hours=23)
    forever = block_create(kind="ip", value="192.0.2.60")
    assert forever.pk == first.pk and forever.expires_at is None
    assert BlockedClient.objects.count() == 1
    assert SecurityEvent.objects.filter(kind="client_blocked").count() == 3


def test_hits_are_counted(settings):
    block = block_create(kind="cidr", value="198.51.100.0/24")
    for _ in range(3):
        _blocked(ip="198.51.100.7")
    blocks_flush_hits()
    block.refresh_from_db()
    assert block.hit_count == 3 and block.last_hit_at is not None
    # One "blocked" event for the flood, not one per request.
    assert SecurityEvent.objects.filter(kind="blocked").count() == 1


def test_hits_are_batched_when_a_flush_interval_is_set(settings):
    settings.GATEHOUSE = {**settings.GATEHOUSE, "BLOCKS_HIT_FLUSH_INTERVAL": 3600}
    block = block_create(kind="ip", value="198.51.100.8")
    from protection.blocks.check import hit_recorder

    hit_recorder.last_flush = time.monotonic()
    for _ in range(5):
        _blocked(ip="198.51.100.8")
    block.refresh_from_db()
    assert block.hit_count == 0 and hit_recorder.pending[block.pk] == 5
    blocks_flush_hits()
    block.refresh_from_db()
    assert block.hit_count == 5


def test_check_needs_no_query_once_loaded(django_assert_num_queries):
    block_create(kind="cidr", value="192.0.2.0/24")
    blocks_check(ip="198.51.100.1")  # loads the list
    with django_assert_num_queries(0):
        for ip in ("198.51.100.2", "2001:db8::1", "::ffff:8.8.8.8"):
            blocks_check(ip=ip, device_id="x", email_domain="example.com")


@pytest.fixture(params=["shared cache", "per-process cache"])
def cache_mode(request):
    """Run a test as under Redis (a version published in the cache reaches every
    process) and as under `make run`'s local-memory cache (it reaches none)."""
    shared = request.param == "shared cache"
    with patch("protection.core.versions.shared_cache_configured", return_value=shared):
        yield request.param


def _other_process(now):
    other = BlockRegistry(clock=lambda: now[0])
    other.current()  # it has loaded the list before the change
    return other


def test_new_block_reaches_another_process_within_a_second(
    cache_mode, django_capture_on_commit_callbacks
):
    now = [100.0]
    other_process = _other_process(now)
    with django_capture_on_commit_callbacks(execute=True):  # the change commits
        block_create(kind="ip", value="192.0.2.77")
    now[0] += 1.0  # BLOCKS_VERSION_CHECK_INTERVAL (cache) / BLOCKS_DB_RELOAD_INTERVAL (database)
    assert other_process.current().match_ip("192.0.2.77", time.time()) is not None


def test_lifted_block_stops_in_another_process_within_a_second(
    cache_mode, django_capture_on_commit_callbacks
):
    """The `make run` papercut: a lift took 60 s to reach the other processes."""
    with django_capture_on_commit_callbacks(execute=True):
        block = block_create(kind="asn", value="64500")
    now = [100.0]
    other_process = _other_process(now)
    assert other_process.current().match("asn", "64500", time.time()) is not None
    with django_capture_on_commit_callbacks(execute=True):
        block_lift(block=block)
    now[0] += 1.0
    assert other_process.current().match("asn", "64500", time.time()) is None


def test_without_a_shared_cache_a_process_asks_the_database_at_most_once_a_second(
    django_assert_num_queries,
):
    now = [100.0]
    with patch("protection.core.versions.shared_cache_configured", return_value=False):
        other_process = _other_process(now)
        with django_assert_num_queries(0):
            for _ in range(3):
                now[0] += 0.3
                other_process.current()
        now[0] += 0.2
        with django_assert_num_queries(1):  # the version row; nothing changed: no reload
            other_process.current()
        assert other_process.observe(b"12345") is False  # a per-process cache says nothing


def test_a_block_whose_publication_was_lost_arrives_within_the_max_age():
    now = [100.0]
    with patch("protection.core.versions.shared_cache_configured", return_value=True):
        other_process = _other_process(now)
        # The cache never hears of it (Redis hiccup); the database row has the new version.
        with patch("protection.blocks.ruleset.blocks_version_publish"):
            block_create(kind="ip", value="192.0.2.78")
        now[0] += 30
        assert other_process.current().match_ip("192.0.2.78", time.time()) is None
        now[0] += 31  # past BLOCKS_MAX_AGE (60 s): the database is asked
        assert other_process.current().match_ip("192.0.2.78", time.time()) is not None


def test_unchanged_version_does_not_reload(django_assert_num_queries):
    now = [100.0]
    with patch("protection.core.versions.shared_cache_configured", return_value=True):
        other_process = _other_process(now)
        for _ in range(5):
            now[0] += 1
            with django_assert_num_queries(0):
                other_process.current()


def test_a_request_round_trip_version_reloads_at_once():
    now = [100.0]
    with patch("protection.core.versions.shared_cache_configured", return_value=True):
        other_process = _other_process(now)
        token = blocks_version_bump()  # in the test's transaction, like a block change
        block_create(kind="country", value="XA")
        assert other_process.observe(str(token).encode()) is True
        assert other_process.current().match("country", "XA", time.time()) is not None
        assert other_process.observe(str(other_process.version).encode()) is False


@pytest.mark.urls(__name__)
def test_blocked_ip_gets_403_problem_before_the_view(client, api_key, make_session):
    block_create(kind="ip", value="203.0.113.66", reason="scraper from the Tor exit list")
    response = client.post("/api/test/session", {}, format="json", REMOTE_ADDR="203.0.113.66")
    assert response.status_code == 403
    body = response.json()
    assert body["code"] == "blocked"
    assert "scraper" not in response.content.decode() and "203.0.113" not in body["detail"]
    assert VIEW_CALLS == []


@pytest.mark.urls(__name__)
def test_blocked_session_and_key_get_403_through_authentication(client, api_key, make_session):
    key, raw = api_key
    issued = make_session(key)
    headers = {"HTTP_X_API_KEY": raw, "HTTP_AUTHORIZATION": f"Bearer {issued.access}"}
    assert client.post("/api/test/session", {}, format="json", **headers).status_code == 200
    block_create(kind="session", value=str(issued.session.id))
    response = client.post("/api/test/session", {}, format="json", **headers)
    assert response.status_code == 403 and response.json()["code"] == "blocked"
    block_lift(block=BlockedClient.objects.get())
    block_create(kind="api_key", value=key.public_id)
    response = client.post("/api/test/session", {}, format="json", **headers)
    assert response.status_code == 403 and response.json()["code"] == "blocked"


def test_registry_is_process_wide_and_invalidated_by_services():
    registry.current()
    block_create(kind="session", value=str(uuid.uuid4()))
    assert registry.compiled is None
