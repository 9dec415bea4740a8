import pytest
from django.test import RequestFactory

from protection.base.clientip import UNKNOWN_IP, normalize_ip, rate_limit_ident
from protection.http.context import client_ip


def request_from(remote_addr: str, forwarded: str | None = None):
    """A request from ``remote_addr`` (the peer: a proxy when ``forwarded`` is set)."""
    extra = {"REMOTE_ADDR": remote_addr}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().get("/api/v1/health", **extra)


def test_remote_addr_is_the_client_by_default():
    assert client_ip(request_from("203.0.113.7")) == "203.0.113.7"


def test_forwarded_header_is_ignored_without_trusted_proxies():
    request = request_from("203.0.113.7", forwarded="198.51.100.1")
    assert client_ip(request) == "203.0.113.7"


@pytest.mark.parametrize(
    ("proxies", "forwarded", "expected"),
    [
        # One proxy appends what it saw: the last entry; a spoofed left part is ignored.
        (1, "6.6.6.6, 198.51.100.1", "198.51.100.1"),
        # Two proxies: the client is the second entry from the right.
        (2, "6.6.6.6, 198.51.100.1, 10.0.0.2", "198.51.100.1"),
        # Ports, as some load balancers write them.
        (1, "6.6.6.6, 198.51.100.1:5678", "198.51.100.1"),
        (1, "[2001:db8::1]:443", "2001:db8::1"),
        (1, "[2001:db8::1]", "2001:db8::1"),
        (1, "2001:db8::1", "2001:db8::1"),
        (2, "198.51.100.1:80, 10.0.0.2", "198.51.100.1"),
        # Fewer entries than declared proxies, or garbage where the client should
        # be: the unknown client, never the proxy (10.0.0.7) itself.
        (2, "198.51.100.1", UNKNOWN_IP),
        (1, "not-an-ip", UNKNOWN_IP),
        (1, "unknown", UNKNOWN_IP),
        (1, "", UNKNOWN_IP),
        (1, "1.2.3.4:port", UNKNOWN_IP),
        (1, "[2001:db8::1", UNKNOWN_IP),
        (1, "[2001:db8::1]:x", UNKNOWN_IP),
        (1, "[not-an-ip]:443", UNKNOWN_IP),
    ],
)
def test_trusted_proxies_pick_the_right_entry_from_the_right(
    settings, proxies, forwarded, expected
):
    settings.GATEHOUSE = {
        **settings.GATEHOUSE,
        "TRUSTED_PROXIES": proxies,
        "TRUSTED_PROXY_NETWORKS": ["10.0.0.0/8"],
    }
    assert client_ip(request_from("10.0.0.7", forwarded=forwarded)) == expected


def test_ipv4_mapped_ipv6_is_plain_ipv4():
    assert client_ip(request_from("::ffff:192.0.2.9")) == "192.0.2.9"
    assert normalize_ip("[2001:db8::1]") == "2001:db8::1"
    assert normalize_ip("999.1.1.1") is None


def test_ipv6_clients_share_a_slash_64_bucket_and_ipv4_stands_alone():
    assert rate_limit_ident("2001:db8:1:2:aaaa::1") == rate_limit_ident("2001:db8:1:2:bbbb::9")
    assert rate_limit_ident("2001:db8:1:2::1") == "2001:db8:1:2::/64"
    assert rate_limit_ident("2001:db8:1:3::1") != rate_limit_ident("2001:db8:1:2::1")
    assert rate_limit_ident("192.0.2.1") == "192.0.2.1"
    assert rate_limit_ident("192.0.2.1") != rate_limit_ident("192.0.2.2")


def test_forwarded_header_from_a_peer_outside_the_proxy_networks_is_ignored(settings):
    # A client reaching gatehouse directly must not be able to claim another address.
    settings.GATEHOUSE = {**settings.GATEHOUSE, "TRUSTED_PROXIES": 1}
    assert client_ip(request_from("203.0.113.7", forwarded="198.51.100.1")) == "203.0.113.7"
    settings.GATEHOUSE = {
        **settings.GATEHOUSE,
        "TRUSTED_PROXY_NETWORKS": ["203.0.113.0/24"],  # e.g. a load balancer's public range
    }
    assert client_ip(request_from("203.0.113.7", forwarded="198.51.100.1")) == "198.51.100.1"
    assert client_ip(request_from("10.0.0.7", forwarded="198.51.100.1")) == "10.0.0.7"


def test_an_ipv6_zone_is_dropped():
    assert normalize_ip("fe80::1%eth0") == "fe80::1"


@pytest.mark.django_db
def test_clients_with_unusable_entries_never_spend_or_block_the_proxy(settings, client, api_key):
    # Before: "1.2.3.4:5678" / "unknown" resolved to the proxy itself, whose
    # bucket every client then shared, until the proxy was auto-blocked.
    from protection.blocks.models import BlockedClient
    from protection.core.events import SecurityEvent

    settings.GATEHOUSE = {
        **settings.GATEHOUSE,
        "TRUSTED_PROXIES": 1,
        "TRUSTED_PROXY_NETWORKS": ["10.0.0.0/8"],
        "RATE_LIMITS": {"challenge": {"ip": ["3/m"]}},
        "AUTO_BLOCK_RULES": [
            {"name": "ip-rate-limited", "dimension": "ip", "kinds": ["rate_limited"],
             "threshold": 1, "window": 600, "duration": 900},
        ],
    }  # fmt: skip
    _, raw = api_key

    def challenge(forwarded: str | None):
        extra = {"HTTP_X_FORWARDED_FOR": forwarded} if forwarded is not None else {}
        return client.post(
            "/api/v1/challenges", HTTP_X_API_KEY=raw, REMOTE_ADDR="10.0.0.7", **extra
        ).status_code

    assert [challenge("unknown") for _ in range(4)] == [201, 201, 201, 429]
    assert challenge(None) == 429  # the same "unknown client" bucket
    # A client whose entry parses (with its port) has its own budget...
    assert [challenge("198.51.100.1:5678") for _ in range(3)] == [201, 201, 201]
    assert challenge("[2001:db8::1]:443") == 201
    # ...and neither the proxy nor the unknown client was blocked or blamed.
    assert not BlockedClient.objects.filter(value__in=["10.0.0.7", UNKNOWN_IP]).exists()
    assert not SecurityEvent.objects.filter(client_ip="10.0.0.7").exists()


def test_a_trusted_peer_without_a_forwarded_header_is_itself_only_when_asked(settings):
    from protection.base.clientip import client_ip_resolve

    settings.GATEHOUSE = {
        **settings.GATEHOUSE,
        "TRUSTED_PROXIES": 1,
        "TRUSTED_PROXY_NETWORKS": ["198.51.100.0/24"],
    }
    direct = {"remote_addr": "198.51.100.9", "forwarded_for": ""}
    assert client_ip_resolve(**direct) == UNKNOWN_IP  # an API request: the unknown client
    assert client_ip_resolve(**direct, peer_when_unforwarded=True) == "198.51.100.9"
    # With the header, the forwarded entry decides either way.
    forwarded = {"remote_addr": "198.51.100.9", "forwarded_for": "203.0.113.7"}
    assert client_ip_resolve(**forwarded, peer_when_unforwarded=True) == "203.0.113.7"
    short = {"remote_addr": "198.51.100.9", "forwarded_for": "garbage"}
    assert client_ip_resolve(**short, peer_when_unforwarded=True) == UNKNOWN_IP
