"""Classification: range boundaries, IPv6 per /64, IPv4-mapped addresses, class
priority, and what is unknown."""

import pytest

from protection.netintel import NetworkOrigin, netintel_classify
from protection.netintel.compiled import merge_by_priority
from protection.netintel.origin import NETWORK_CLASSES, ip_key
from tests.support.netintel import load_sources

pytestmark = pytest.mark.django_db

HOSTING = "EXAMPLE-HOSTING Example Hosting Ltd"


@pytest.fixture(autouse=True)
def _dataset(tmp_path):
    load_sources(tmp_path)


@pytest.mark.parametrize(
    ("ip", "asn", "country", "network_class"),
    [
        ("192.0.2.0", 64500, "XA", "hosting"),  # first address of the first range
        ("192.0.2.127", 64500, "XA", "hosting"),  # last address of the range and of /25
        ("192.0.2.128", 64501, "XB", ""),  # first of the next range, outside hosting
        ("192.0.2.255", 64501, "XB", ""),
        ("192.0.2.10", 64500, "XA", "tor"),  # a Tor exit inside hosting: tor wins
        ("198.51.100.127", 65536, "XA", ""),
        ("198.51.100.128", 65536, "XA", "vpn"),
        ("198.51.100.200", 65536, "XA", "proxy"),  # proxy over vpn
        ("198.51.100.201", 65536, "XA", "vpn"),
        ("198.18.0.0", 64502, "", ""),  # a range without a country
        ("198.19.255.255", 64502, "", ""),
        ("198.20.0.0", None, "", ""),  # just past it
        ("203.0.113.1", None, "", ""),  # "Not routed": no AS
        ("203.0.113.5", None, "", "tor"),  # listed without an AS
        ("::ffff:192.0.2.10", 64500, "XA", "tor"),  # IPv4-mapped: the IPv4 address
        ("::FFFF:198.51.100.200", 65536, "XA", "proxy"),
        ("2001:db8::1", 64500, "XA", "hosting"),
        ("2001:db8:0:ffff:ffff:ffff:ffff:ffff", 64500, "XA", "hosting"),  # last of the range
        ("2001:db8:1::", 65551, "XC", ""),  # first of the next one, outside the /48
        ("2001:db8:2::", None, "", ""),
        ("[2001:db8::5]", 64500, "XA", "hosting"),
        ("fe80::1%eth0", None, "", ""),
    ],
)
def test_classification_edges(ip, asn, country, network_class):
    origin = netintel_classify(ip)
    assert (origin.asn, origin.country, origin.network_class) == (asn, country, network_class)
    assert origin.unknown is False


def test_the_origin_names_the_organisation_and_has_the_event_shape():
    origin = netintel_classify("192.0.2.1")
    assert origin == NetworkOrigin(asn=64500, as_org=HOSTING, country="XA", network_class="hosting")
    assert origin.as_details() == {"asn": 64500, "country": "XA", "class": "hosting"}


@pytest.mark.parametrize("text", ["", "example.com", "192.0.2", "999.1.1.1", "2001:db8::g"])
def test_what_is_not_an_address_is_unknown(text):
    assert netintel_classify(text).unknown is True


def test_ipv6_is_classified_per_64():
    # Two addresses of one /64 always share an origin.
    assert ip_key("2001:db8::1") == ip_key("2001:db8::ffff:ffff:ffff:ffff") == (6, 0x20010DB8 << 32)
    assert ip_key("::ffff:192.0.2.1") == ip_key("192.0.2.1") == (4, 0xC0000201)


def test_overlapping_class_ranges_flatten_by_priority():
    tor, hosting = NETWORK_CLASSES.index("tor"), NETWORK_CLASSES.index("hosting")
    merged = merge_by_priority(
        [(0, 99, hosting), (10, 10, tor), (50, 150, tor), (200, 210, hosting)]
    )
    assert merged == [
        (0, 9, hosting),
        (10, 10, tor),
        (11, 49, hosting),
        (50, 150, tor),
        (200, 210, hosting),
    ]
    assert merge_by_priority([(5, 9, hosting), (0, 20, hosting)]) == [(0, 20, hosting)]
