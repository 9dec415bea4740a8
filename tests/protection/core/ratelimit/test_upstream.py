"""django-ratelimit's private helpers, pinned: this fails loudly if an upgrade changes them.

``protection.core.ratelimit.batch`` counts django-ratelimit's buckets itself, so
the keys and windows it computes must be exactly django-ratelimit's. If a test
here fails after an upgrade, do not just update the numbers: the Redis script
and ``get_usage`` would count different buckets (limits silently doubled).
Re-read ``django_ratelimit/core.py``, adapt ``protection/core/ratelimit/upstream.py``,
then update these expectations.
"""

import inspect
import types

import pytest
from django.core.cache import cache
from django_ratelimit import core

from protection.core.ratelimit.upstream import (
    TTL_FUDGE,
    bucket_cache_key,
    bucket_window_end,
    get_usage,
)

NOW = 1_700_000_000


@pytest.fixture
def frozen_clock(monkeypatch):
    monkeypatch.setattr(core, "time", types.SimpleNamespace(time=lambda: NOW + 0.5))


def test_the_private_helpers_keep_their_signatures():
    assert list(inspect.signature(core._get_window).parameters) == ["value", "period"]
    assert list(inspect.signature(core._make_cache_key).parameters) == [
        "group",
        "window",
        "rate",
        "value",
        "methods",
    ]
    assert list(inspect.signature(core.get_usage).parameters) == [
        "request",
        "group",
        "fn",
        "key",
        "rate",
        "method",
        "increment",
    ]


def test_the_ttl_fudge_is_five_seconds():
    assert TTL_FUDGE == core.EXPIRATION_FUDGE == 5


@pytest.mark.parametrize(
    ("bucket", "period", "window_end"),
    [
        ("gh:ip:203.0.113.7", 60, 1_700_000_033),
        ("gh:ip:203.0.113.7", 86_400, 1_700_051_813),
        ("k", 3_600, 1_700_002_621),
        ("anything", 1, NOW),  # one-second windows end now, no jitter
    ],
)
def test_window_ends_on_known_inputs(frozen_clock, bucket, period, window_end):
    assert bucket_window_end(bucket, period) == window_end


def test_cache_key_on_a_known_input(settings):
    for name in ("RATELIMIT_CACHE_PREFIX", "RATELIMIT_HASH_ALGORITHM"):
        if hasattr(settings, name):
            delattr(settings, name)
    assert bucket_cache_key("lookup", 1_700_000_040, "10/m", "gh:ip:203.0.113.7") == (
        "rl:7b353f6c4caef29d7a600ed65aba0e28d304935e9a114dbeaa42ca0b69743443"
    )


def test_get_usage_counts_in_the_bucket_we_compute(frozen_clock):
    # The point of it all: the Redis script (batch) and get_usage share buckets.
    for _ in range(3):
        usage = get_usage(
            None, group="lookup", key=lambda _g, _r: "gh:ip:198.51.100.1", rate="5/m",
            increment=True,
        )  # fmt: skip
    assert usage["count"] == 3 and usage["limit"] == 5
    window = bucket_window_end("gh:ip:198.51.100.1", 60)
    assert cache.get(bucket_cache_key("lookup", window, "5/m", "gh:ip:198.51.100.1")) == 3
    assert usage["time_left"] == window - NOW


def test_no_other_module_touches_the_private_helpers():

    from tests.support.paths import ROOT as root

    users = sorted(
        str(path.relative_to(root))
        for package in ("protection", "signup", "config")
        for path in (root / package).rglob("*.py")
        if "django_ratelimit" in path.read_text()
    )
    assert users == ["protection/core/ratelimit/upstream.py"]
