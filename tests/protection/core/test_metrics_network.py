"""Decision counts by network class: from events' details["network"], never by
address or AS, and bounded whatever a detail holds."""

from types import SimpleNamespace

import pytest
from prometheus_client import REGISTRY

from protection.core.metrics import metrics_event_recorded


def _count(**labels: str) -> float:
    return REGISTRY.get_sample_value("gatehouse_network_decisions_total", labels) or 0.0


def _record(details: dict, decision: str = "deny") -> None:
    event = SimpleNamespace(kind="blocked", decision=decision, reason="blocked", details=details)
    metrics_event_recorded(event=event)


@pytest.mark.parametrize(
    ("network_class", "label"),
    [("hosting", "hosting"), ("tor", "tor"), ("", "none"), (None, "none"), ("x" * 40, "other")],
)
def test_events_with_a_network_are_counted_by_class(network_class, label):
    labels = {"kind": "blocked", "decision": "deny", "network_class": label}
    before = _count(**labels)
    _record({"network": {"asn": 64500, "country": "XA", "class": network_class}})
    assert _count(**labels) == before + 1


def test_events_without_a_network_are_not_counted_and_no_label_holds_an_address():
    families = [m for m in REGISTRY.collect() if m.name == "gatehouse_network_decisions"]
    before = sum(s.value for m in families for s in m.samples if s.name.endswith("_total"))
    _record({})
    _record({"network": "203.0.113.7"})
    after = sum(
        s.value
        for m in REGISTRY.collect()
        if m.name == "gatehouse_network_decisions"
        for s in m.samples
        if s.name.endswith("_total")
    )
    assert after == before
    for family in REGISTRY.collect():
        if family.name == "gatehouse_network_decisions":
            assert {"kind", "decision", "network_class"} >= set(family.samples[0].labels)
