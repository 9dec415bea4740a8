"""Blocks by AS number, country, network class and phone prefix: spelling,
the commands, the admin form and blocks_check, end to end from the data."""

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from protection.base.exceptions import ProtectionError
from protection.blocks import BlockedClient, block_target, blocks_check
from protection.core.events import SecurityEvent
from protection.netintel import UNKNOWN_ORIGIN, NetworkOrigin, netintel_classify
from tests.support.netintel import load_sources

pytestmark = pytest.mark.django_db

HOSTING_ORIGIN = NetworkOrigin(asn=64500, as_org="X", country="XA", network_class="hosting")


def _run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def _refused(**kwargs) -> bool:
    try:
        blocks_check(**kwargs)
    except ProtectionError as error:
        assert error.code == "blocked"
        return True
    return False


@pytest.mark.parametrize(
    ("kind", "given", "stored"),
    [
        ("asn", "64500", "64500"),
        ("asn", "AS64500", "64500"),
        ("asn", " as 65536 ", "65536"),
        ("asn", "4294967295", "4294967295"),
        ("country", "xa", "XA"),
        ("country", " fr ", "FR"),
        ("network_class", "TOR", "tor"),
        ("network_class", "hosting", "hosting"),
        ("phone_prefix", "+1201555", "+1201555"),
        ("phone_prefix", "+1 (201) 555", "+1201555"),
        ("phone_prefix", "+44-7700-900", "+447700900"),
    ],
)
def test_values_are_stored_in_one_spelling(kind, given, stored):
    assert block_target(kind=kind, value=given) == (kind, stored)


@pytest.mark.parametrize(
    ("kind", "given", "message"),
    [
        ("asn", "0", "not an AS number"),
        ("asn", "4294967296", "not an AS number"),
        ("asn", "ASN64500", "not an AS number"),
        ("asn", "-1", "not an AS number"),
        ("country", "FRA", "not an ISO 3166 alpha-2"),
        ("country", "F1", "not an ISO 3166 alpha-2"),
        ("country", "ÉU", "not an ISO 3166 alpha-2"),
        ("network_class", "residential", "choose from tor, proxy, vpn, hosting"),
        ("phone_prefix", "1201555", "not a phone number prefix"),
        ("phone_prefix", "+0201555", "not a phone number prefix"),
        ("phone_prefix", "+123456789012", "not a phone number prefix"),  # 12 digits
        ("phone_prefix", "+1201555x", "not a phone number prefix"),
    ],
)
def test_malformed_values_are_refused_with_a_reason(kind, given, message):
    with pytest.raises(ValueError, match=message):
        block_target(kind=kind, value=given)


@pytest.mark.parametrize(
    ("flag", "value", "kind", "stored"),
    [
        ("--asn", "AS64500", "asn", "64500"),
        ("--country", "xa", "country", "XA"),
        ("--network-class", "tor", "network_class", "tor"),
        ("--phone-prefix", "+1201555", "phone_prefix", "+1201555"),
    ],
)
def test_block_and_unblock_client_take_the_new_flags(flag, value, kind, stored):
    output = _run("block_client", flag, value, "--for", "12h", "--reason", "farm")
    block = BlockedClient.objects.get()
    assert (block.kind, block.value, block.reason) == (kind, stored, "farm")
    assert output.startswith(f"Blocked {kind} {stored} until ")
    assert _run("unblock_client", flag, value) == f"Lifted 1 block(s) on {kind} {stored}\n"
    assert BlockedClient.objects.get().lifted_at is not None
    assert "nothing to lift" in _run("unblock_client", flag, value)


@pytest.mark.parametrize(
    ("flag", "value", "message"),
    [
        ("--asn", "AS0", "Invalid asn: not an AS number"),
        ("--country", "Germany", "Invalid country: not an ISO 3166 alpha-2"),
        ("--network-class", "dsl", "Invalid network_class: not a network class"),
        ("--phone-prefix", "12015", "Invalid phone_prefix: not a phone number prefix"),
    ],
)
def test_the_commands_refuse_malformed_values(flag, value, message):
    with pytest.raises(CommandError, match=message):
        call_command("block_client", flag, value)
    assert not BlockedClient.objects.exists()


def test_exactly_one_selector_is_needed():
    with pytest.raises(CommandError, match="--asn --country --network-class --phone-prefix"):
        call_command("block_client", "--reason", "x")


@pytest.mark.parametrize(
    ("flag", "value"),
    [("--asn", "64500"), ("--country", "XA"), ("--network-class", "hosting")],
)
def test_each_part_of_an_origin_is_checked(flag, value):
    _run("block_client", flag, value)
    assert _refused(origin=HOSTING_ORIGIN)
    assert not _refused(origin=NetworkOrigin(asn=64501, country="XB", network_class="vpn"))
    assert not _refused(origin=UNKNOWN_ORIGIN)  # no data: nothing can match (fail open)
    assert not _refused(ip="192.0.2.1")  # an origin must be given to be checked


def test_a_blocked_prefix_covers_longer_ones():
    _run("block_client", "--phone-prefix", "+1201")
    assert _refused(phone_prefix="+1201555")
    assert _refused(phone_prefix="+1201")
    assert not _refused(phone_prefix="+1202555")
    assert not _refused(phone_prefix="+120")


def test_a_blocked_asn_refuses_its_addresses_end_to_end(tmp_path):
    load_sources(tmp_path)
    _run("block_client", "--asn", "64500", "--reason", "sign-up farm")
    origin = netintel_classify("192.0.2.77")
    with pytest.raises(ProtectionError) as refused:
        blocks_check(ip="192.0.2.77", origin=origin)
    assert refused.value.code == "blocked" and refused.value.status_code == 403
    blocks_check(ip="192.0.2.200", origin=netintel_classify("192.0.2.200"))  # AS64501
    event = SecurityEvent.objects.get(kind="blocked")
    assert event.details["block_kind"] == "asn"
    assert event.details["network"] == {"asn": 64500, "country": "XA", "class": "hosting"}


def test_network_checks_need_no_query(django_assert_num_queries):
    _run("block_client", "--country", "XA")
    assert _refused(origin=HOSTING_ORIGIN)  # loads the list; records the minute's event
    with django_assert_num_queries(0):
        for _ in range(3):
            assert _refused(origin=HOSTING_ORIGIN)
            assert not _refused(origin=UNKNOWN_ORIGIN, phone_prefix="+33612")


def test_the_admin_adds_a_country_block():
    admin = get_user_model().objects.create_superuser("root", "root@example.com", "pw-123456!")
    client = Client()
    client.force_login(admin)
    response = client.post(
        "/admin/protection/blockedclient/add/",
        {"kind": "country", "value": "xa", "duration": "7d", "reason": "test"},
    )
    assert response.status_code == 302, response.content
    assert BlockedClient.objects.get().value == "XA"
    listing = client.get("/admin/protection/blockedclient/?kind__exact=country")
    assert b"country (ISO 3166 alpha-2)" in listing.content or b"XA" in listing.content
    bad = client.post(
        "/admin/protection/blockedclient/add/", {"kind": "asn", "value": "AS0", "reason": ""}
    )
    assert bad.status_code == 200 and b"not an AS number" in bad.content
