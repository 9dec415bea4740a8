"""A new dataset reaches every process; no data or old data is "unknown",
a warning, an alert and a metric."""

import datetime
import math
from unittest.mock import patch

import pytest
from django.core import checks
from django.utils import timezone

from protection.core.events import SecurityEvent
from protection.netintel import netintel_classify
from protection.netintel.models import NetIntelDataset
from protection.netintel.registry import NETINTEL_VERSION_CACHE_KEY, NetIntelRegistry, stale_alert
from tests.support.netintel import load_sources

pytestmark = pytest.mark.django_db

DAY = 86400


@pytest.fixture(params=["shared cache", "per-process cache"])
def cache_mode(request):
    shared = request.param == "shared cache"
    with patch("protection.core.versions.shared_cache_configured", return_value=shared):
        yield request.param


def _origin_asn(process: NetIntelRegistry, ip: str) -> int | None:
    return process.current().classify(ip).asn


def test_a_new_dataset_reaches_another_process(
    cache_mode, tmp_path, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        load_sources(tmp_path / "one")
    now = [1000.0]
    other_process = NetIntelRegistry(clock=lambda: now[0])
    assert _origin_asn(other_process, "192.0.2.130") == 64501
    with django_capture_on_commit_callbacks(execute=True):
        load_sources(tmp_path / "two", ip2asn_v4="192.0.2.0\t192.0.2.255\t64510\tXD\tNEW\n")
    assert _origin_asn(other_process, "192.0.2.130") == 64501  # until its next check
    now[0] += 10.0  # NETINTEL_VERSION_CHECK_INTERVAL (cache) / NETINTEL_DB_CHECK_INTERVAL
    assert _origin_asn(other_process, "192.0.2.130") == 64510
    assert other_process.version == NetIntelDataset.objects.order_by("-id").first().pk


def test_the_version_a_request_read_swaps_the_data_at_once(tmp_path):
    load_sources(tmp_path / "one")
    other_process = NetIntelRegistry(clock=lambda: 1000.0)
    first = other_process.current().dataset_id
    load_sources(tmp_path / "two", ip2asn_v4="192.0.2.0\t192.0.2.255\t64510\tXD\tNEW\n")
    second = NetIntelDataset.objects.order_by("-id").first().pk
    with patch("protection.core.versions.shared_cache_configured", return_value=True):
        assert other_process.observe(str(first).encode()) is False  # what it has
        assert other_process.observe(str(second).encode()) is True
    assert other_process.current().classify("192.0.2.1").asn == 64510


def test_the_published_version_is_the_dataset_id(tmp_path, django_capture_on_commit_callbacks):
    from django.core.cache import cache

    with django_capture_on_commit_callbacks(execute=True):
        load_sources(tmp_path)
    assert cache.get(NETINTEL_VERSION_CACHE_KEY) == NetIntelDataset.objects.get().pk


@pytest.fixture(autouse=True)
def _alert_due():
    stale_alert.reset()  # the suite's conftest mutes it for every other test


def _alerts_since(start: datetime.datetime):
    # Only this test's: requests of other tests classify addresses too.
    return SecurityEvent.objects.filter(kind="netintel_stale", created_at__gte=start)


def test_without_data_everything_is_unknown_with_one_alert_per_hour():
    start = timezone.now()
    assert netintel_classify("192.0.2.1").unknown is True
    assert netintel_classify("198.51.100.1").unknown is True
    (alert,) = _alerts_since(start)
    assert (alert.decision, alert.reason) == ("alert", "netintel_missing")
    assert alert.details["age_seconds"] is None


def test_data_older_than_the_max_age_is_not_used(tmp_path, settings):
    start = timezone.now()
    settings.GATEHOUSE = {**settings.GATEHOUSE, "NETINTEL_MAX_AGE": 2 * DAY}
    load_sources(tmp_path)
    loaded = NetIntelDataset.objects.get().loaded_at.timestamp()
    assert netintel_classify("192.0.2.1", now=loaded + DAY).asn == 64500
    stale = netintel_classify("192.0.2.1", now=loaded + 3 * DAY)
    assert stale.unknown is True and stale.asn is None
    (alert,) = _alerts_since(start)
    assert alert.reason == "netintel_stale" and alert.details["age_seconds"] == 3 * DAY
    netintel_classify("192.0.2.1", now=loaded + 4 * DAY)
    assert _alerts_since(start).count() == 1  # once an hour


def _ids(*, deploy: bool = False) -> set[str]:
    return {m.id for m in checks.run_checks(include_deployment_checks=deploy)}


def test_checks_warn_without_data_and_with_old_data(tmp_path, settings):
    assert "protection.W120" in _ids(deploy=True)
    assert "protection.W120" not in _ids()  # a development checkout is not nagged
    load_sources(tmp_path)
    assert not {"protection.W120", "protection.W121"} & _ids(deploy=True)
    NetIntelDataset.objects.update(loaded_at=timezone.now() - datetime.timedelta(days=15))
    (warning,) = [m for m in checks.run_checks() if m.id == "protection.W121"]
    assert "15d old" in warning.msg and "NETINTEL_MAX_AGE (14d)" in warning.msg


def test_metrics_expose_the_age_of_the_data(client, tmp_path):
    body = client.get("/metrics", REMOTE_ADDR="127.0.0.1").content.decode()
    assert "gatehouse_netintel_age_seconds +Inf" in body
    load_sources(tmp_path)
    NetIntelDataset.objects.update(loaded_at=timezone.now() - datetime.timedelta(hours=2))
    body = client.get("/metrics", REMOTE_ADDR="127.0.0.1").content.decode()
    (line,) = [x for x in body.splitlines() if x.startswith("gatehouse_netintel_age_seconds ")]
    assert 7200 <= float(line.split()[1]) < 7300
    assert 'gatehouse_netintel_ranges{kind="asn"} 6.0' in body
    assert math.isfinite(float(line.split()[1]))


def test_a_process_whose_database_fails_keeps_its_data(tmp_path):
    load_sources(tmp_path)
    now = [1000.0]
    other_process = NetIntelRegistry(clock=lambda: now[0])
    assert _origin_asn(other_process, "192.0.2.1") == 64500
    with (
        patch("protection.core.versions.shared_cache_configured", return_value=False),
        patch("protection.netintel.registry.netintel_current_id", side_effect=RuntimeError),
    ):
        now[0] += 60
        assert _origin_asn(other_process, "192.0.2.1") == 64500
