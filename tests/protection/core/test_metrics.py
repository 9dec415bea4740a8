"""Metrics: who may read them, what the recorders count, and workers added up."""

import subprocess
import sys

import pytest
from prometheus_client import REGISTRY
from prometheus_client.mmap_dict import MmapedDict

from protection.core.metrics import (
    metrics_cache_fallback,
    metrics_event_recorded,
    metrics_verification_observe,
)
from protection.core.ratelimit.fallback import cache_health
from tests.support.paths import ROOT


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.mark.django_db
@pytest.mark.parametrize("address", ["127.0.0.1", "10.1.2.3", "192.168.0.9", "::1"])
def test_metrics_are_served_to_loopback_and_private_addresses(client, address):
    response = client.get("/metrics", REMOTE_ADDR=address)
    assert response.status_code == 200
    assert b"gatehouse_decisions" in response.content


@pytest.mark.django_db
def test_metrics_are_refused_to_a_public_address(client):
    response = client.get("/metrics", REMOTE_ADDR="203.0.113.7")
    assert response.status_code == 403
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "forbidden"
    assert b"gatehouse_" not in response.content


@pytest.mark.django_db
def test_a_public_client_behind_the_proxy_is_refused(client, settings):
    # The proxy itself is private: the forwarded client is what counts.
    settings.GATEHOUSE = {
        **settings.GATEHOUSE,
        "TRUSTED_PROXIES": 1,
        "TRUSTED_PROXY_NETWORKS": ["10.0.0.0/8"],
    }
    response = client.get("/metrics", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="203.0.113.7")
    assert response.status_code == 403


@pytest.mark.django_db
def test_a_scraper_connecting_directly_under_trusted_proxies_is_itself(client, settings):
    # The documented scrape config: Prometheus in the proxies' network calls the
    # pod by its address, with no X-Forwarded-For: not the unknown client.
    settings.GATEHOUSE = {
        **settings.GATEHOUSE,
        "TRUSTED_PROXIES": 1,
        "TRUSTED_PROXY_NETWORKS": ["198.51.100.0/24"],
        "METRICS_NETWORKS": ["198.51.100.0/24"],
    }
    settings.ALLOWED_HOSTS = ["gatehouse.example"]
    response = client.get("/metrics", REMOTE_ADDR="198.51.100.9", HTTP_HOST="192.0.2.21:8000")
    assert response.status_code == 200
    assert b"gatehouse_" in response.content
    # Through the proxy, the forwarded client still decides.
    forwarded = client.get(
        "/metrics", REMOTE_ADDR="198.51.100.9", HTTP_X_FORWARDED_FOR="203.0.113.7"
    )
    assert forwarded.status_code == 403


def test_the_trusted_proxy_networks_default_to_loopback():
    from protection.conf import DEFAULTS

    assert DEFAULTS["TRUSTED_PROXY_NETWORKS"] == ["127.0.0.0/8", "::1/128"]


@pytest.mark.django_db
def test_metrics_networks_is_a_setting(client, settings):
    settings.GATEHOUSE = {**settings.GATEHOUSE, "METRICS_NETWORKS": ["203.0.113.0/24"]}
    assert client.get("/metrics", REMOTE_ADDR="203.0.113.7").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 403


@pytest.mark.django_db
def test_only_get_is_allowed(client):
    response = client.post("/metrics", REMOTE_ADDR="127.0.0.1")
    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"


def test_the_fallback_gauge_follows_the_cache_health():
    failures = value("gatehouse_cache_failures_total")
    cache_health.mark_down(now=100.0)
    assert value("gatehouse_cache_fallback") == 1
    assert value("gatehouse_cache_failures_total") == failures + 1
    assert cache_health.is_down(101.0)
    assert not cache_health.is_down(10_000.0)  # the pause is over: the cache is tried again
    assert value("gatehouse_cache_fallback") == 0


def test_a_rate_limited_event_counts_each_dimension_refused():
    class Event:
        kind, decision, reason = "rate_limited", "deny", "create:ip,session"
        details = {"group": "create", "dimensions": ["ip", "session"]}

    ip_before = value("gatehouse_rate_limited_total", group="create", dimension="ip")
    session_before = value("gatehouse_rate_limited_total", group="create", dimension="session")
    metrics_event_recorded(event=Event())
    assert value("gatehouse_rate_limited_total", group="create", dimension="ip") == ip_before + 1
    assert (
        value("gatehouse_rate_limited_total", group="create", dimension="session")
        == session_before + 1
    )


def test_an_event_with_odd_details_still_counts_its_decision():
    class Event:
        kind, decision, reason = "rate_limited", "deny", "x" * 200
        details = {"dimensions": "not-a-list"}

    before = value(
        "gatehouse_decisions_total", kind="rate_limited", decision="deny", reason="x" * 64
    )
    metrics_event_recorded(event=Event())
    after = value(
        "gatehouse_decisions_total", kind="rate_limited", decision="deny", reason="x" * 64
    )
    assert after == before + 1


def test_an_unknown_verification_kind_is_a_programming_error():
    with pytest.raises(ValueError, match="captcha"):
        metrics_verification_observe(kind="captcha", seconds=0.1)
    metrics_cache_fallback(active=False)


WORKER = (
    "from protection.core.metrics import DECISIONS, metrics_difficulty_issued; "
    "DECISIONS.labels('session_issued', 'allow', '').inc(); "
    "metrics_difficulty_issued(max_number=200000)"
)
SCRAPE = (
    "from prometheus_client import generate_latest; "
    "from protection.core.metrics import metrics_registry; "
    "print(generate_latest(metrics_registry()).decode())"
)


@pytest.mark.subprocess
def test_in_multiprocess_mode_a_scrape_adds_up_every_worker(tmp_path):
    env = {"PROMETHEUS_MULTIPROC_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    for _ in range(3):  # three workers, each counting once
        subprocess.run([sys.executable, "-c", WORKER], cwd=ROOT, env=env, check=True, timeout=60)
    # Each process folded its files into the archives as it exited: two files
    # in all, not two per process (issue 23, point 10).
    assert sorted(p.name for p in tmp_path.glob("*.db")) == [
        "counter_archive.db",
        "histogram_archive.db",
    ]
    scraped = subprocess.run(
        [sys.executable, "-c", SCRAPE], cwd=ROOT, env=env, check=True, timeout=60,
        capture_output=True, text=True,
    ).stdout  # fmt: skip
    assert (
        'gatehouse_decisions_total{decision="allow",kind="session_issued",reason=""} 3.0' in scraped
    )
    assert "gatehouse_pow_difficulty_issued_count 3.0" in scraped


def _load_gunicorn_conf():
    import importlib.util

    spec = importlib.util.spec_from_file_location("gunicorn_conf", ROOT / "config/gunicorn.conf.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_gunicorn_hooks_clear_stale_files_and_drop_a_dead_workers_gauges(tmp_path, monkeypatch):
    conf = _load_gunicorn_conf()
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    (tmp_path / "counter_999.db").write_bytes(b"stale")
    conf.on_starting(server=None)
    assert list(tmp_path.iterdir()) == []

    (tmp_path / "gauge_livemax_4242.db").write_bytes(b"")
    counter = MmapedDict(str(tmp_path / "counter_4242.db"))
    counter.write_value('["gatehouse_x", "gatehouse_x_total", {}, "x"]', 2.0, 0.0)
    counter.close()
    conf.child_exit(server=None, worker=type("Worker", (), {"pid": 4242})())
    # The dead worker's counts live on in the archive; its own files are gone.
    assert sorted(p.name for p in tmp_path.glob("*.db")) == ["counter_archive.db"]
    archived = MmapedDict.read_all_values_from_file(str(tmp_path / "counter_archive.db"))
    assert [(key, value) for key, value, _, _ in archived] == [
        ('["gatehouse_x", "gatehouse_x_total", {}, "x"]', 2.0)
    ]


def test_what_observe_mode_would_have_denied_is_counted_as_dry_run(db):
    from protection.core.events import event_record

    labels = {"kind": "rate_limited", "decision": "dry_run", "reason": "session:key"}
    before = value("gatehouse_decisions_total", **labels)
    refusals = value("gatehouse_rate_limited_total", group="session", dimension="key")
    event_record(
        kind="rate_limited",
        decision="alert",
        reason="session:key",
        details={"group": "session", "dimensions": ["key"], "dry_run": True},
    )
    assert value("gatehouse_decisions_total", **labels) == before + 1
    # Not a 429: nobody was refused.
    assert value("gatehouse_rate_limited_total", group="session", dimension="key") == refusals
