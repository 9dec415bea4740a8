"""The dashboard's "where denials come from" panels: top AS numbers and network
classes, read from deny events' details["network"] (PostgreSQL and SQLite)."""

import datetime

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from protection.admin.dashboard import denied_networks
from protection.core.events import SecurityEvent
from tests.support.netintel import load_sources

pytestmark = pytest.mark.django_db


def _denied(network, *, count=1, decision="deny", hours_ago=0):
    SecurityEvent.objects.create(
        kind="blocked",
        decision=decision,
        reason="blocked",
        count=count,
        details={"network": network} if network is not None else {},
        created_at=timezone.now() - datetime.timedelta(hours=hours_ago, minutes=1),
    )


@pytest.fixture
def events():
    _denied({"asn": 64500, "country": "XA", "class": "hosting"}, count=5)
    _denied({"asn": 64500, "country": "XA", "class": "tor"})
    _denied({"asn": 65536, "country": "XB", "class": ""}, count=2)
    _denied({"asn": None, "country": "", "class": ""})  # classified, outside every AS
    _denied(None)  # no network data
    _denied({"asn": 64511, "country": "XA", "class": "vpn"}, decision="allow")  # not a denial
    _denied({"asn": 64510, "country": "XA", "class": "proxy"}, hours_ago=30)  # too old


def test_top_asns_and_classes_count_denials(events, tmp_path):
    load_sources(tmp_path)  # names the AS numbers it knows
    since = timezone.now() - datetime.timedelta(hours=24)
    networks = denied_networks(since=since)
    assert networks["asns"] == [
        {"asn": 64500, "n": 6, "name": "EXAMPLE-HOSTING Example Hosting Ltd"},
        {"asn": 65536, "n": 2, "name": "BIG-AS Four-byte networks"},
    ]
    assert networks["classes"] == [
        {"network_class": "hosting", "n": 5},
        {"network_class": "none", "n": 3},
        {"network_class": "tor", "n": 1},
    ]


def test_the_dashboard_shows_the_panels(events):
    admin = get_user_model().objects.create_superuser("root", "root@example.com", "pw-123456!")
    client = Client()
    client.force_login(admin)
    page = client.get("/admin/protection/securityevent/dashboard/").content.decode()
    assert 'id="top-asns"' in page and 'id="network-classes"' in page
    assert "AS64500</a>" in page and "?kind=asn&amp;value=64500" in page
    assert "<td>hosting</td><td>5</td>" in page
