"""``GET /metrics`` after a scripted flow: challenge, session, lookups until 429, a block."""

import pytest
from prometheus_client.parser import text_string_to_metric_families

from protection.blocks import block_create
from tests.support.challenges import easy_pow_fixture, solve  # noqa: F401

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("easy_pow")]


def scrape(client) -> dict[tuple[str, tuple], float]:
    response = client.get("/metrics", REMOTE_ADDR="127.0.0.1")
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def delta(before: dict, after: dict, name: str, **labels: str) -> float:
    key = (name, tuple(sorted(labels.items())))
    return after.get(key, 0.0) - before.get(key, 0.0)


def test_the_counters_move_through_a_scripted_flow(client, api_key, settings):
    settings.GATEHOUSE = {
        **settings.GATEHOUSE,
        "RATE_LIMITS": {
            **settings.GATEHOUSE.get("RATE_LIMITS", {}),
            "lookup": {"session": ["2/m"]},
        },
    }
    _, raw = api_key
    before = scrape(client)

    challenge = client.post("/api/v1/challenges", HTTP_X_API_KEY=raw).json()
    session = client.post(
        "/api/v1/sessions", {"altcha": solve(challenge["altcha"])}, format="json",
        HTTP_X_API_KEY=raw,
    )  # fmt: skip
    assert session.status_code == 201, session.content
    access = session.json()["access"]
    statuses = [
        client.post(
            "/api/v1/persons/lookup", {"email": f"p{i}@example.com"}, format="json",
            HTTP_X_API_KEY=raw, HTTP_AUTHORIZATION=f"Bearer {access}",
        ).status_code
        for i in range(3)
    ]  # fmt: skip
    assert statuses == [200, 200, 429]
    block_create(kind="ip", value="198.51.100.99", reason="test", duration=None, rule="")

    after = scrape(client)
    assert delta(before, after, "gatehouse_rate_limited_total", group="lookup", dimension="session")
    assert (
        delta(
            before,
            after,
            "gatehouse_decisions_total",
            kind="rate_limited",
            decision="deny",
            reason="lookup:session",
        )
        == 1
    )
    assert delta(before, after, "gatehouse_pow_difficulty_issued_count") == 1
    assert delta(before, after, "gatehouse_verification_seconds_count", kind="challenge") == 1
    assert delta(before, after, "gatehouse_verification_seconds_count", kind="token") >= 2
    assert after[("gatehouse_blocks_active", (("kind", "ip"),))] == 1
    assert after[("gatehouse_blocks_active", (("kind", "session"),))] == 0
    assert ("gatehouse_cache_fallback", ()) in after
