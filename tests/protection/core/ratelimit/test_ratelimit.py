"""The limiter core: atomic counters, several windows, bounded opaque keys,
rate syntax and per-key override validation."""

import pytest
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.forms import modelform_factory

from protection.base.exceptions import ProtectionError
from protection.core.ratelimit import (
    Hit,
    counter_ident,
    group_rates,
    rate_limit_distinct_hit,
    rate_limit_enforce,
    rate_limit_hit,
    rate_limit_hit_many,
    rate_parse,
    validate_rate_limit_overrides,
)
from protection.keys import ApiKey


def test_hits_within_rate_are_allowed_then_refused():
    results = [rate_limit_hit(group="g", ident="203.0.113.7", rate="3/m") for _ in range(4)]
    assert [r.allowed for r in results] == [True, True, True, False]
    assert [r.remaining for r in results] == [2, 1, 0, 0]
    assert all(r.limit == 3 and r.period == 60 and 1 <= r.reset_after <= 60 for r in results)


def test_peek_without_increment_does_not_count():
    rate_limit_hit(group="g", ident="a", rate="2/m")
    peek = rate_limit_hit(group="g", ident="a", rate="2/m", increment=False)
    assert peek.allowed and peek.remaining == 1
    assert rate_limit_hit(group="g", ident="a", rate="2/m").remaining == 0


def test_groups_and_idents_have_separate_buckets():
    for _ in range(2):
        rate_limit_hit(group="g1", ident="a", rate="2/m")
    assert not rate_limit_hit(group="g1", ident="a", rate="2/m").allowed
    assert rate_limit_hit(group="g2", ident="a", rate="2/m").allowed
    assert rate_limit_hit(group="g1", ident="b", rate="2/m").allowed


def test_empty_ident_gets_its_own_bucket_not_a_shared_one():
    for _ in range(2):
        rate_limit_hit(group="g", ident="", rate="2/m")
    assert not rate_limit_hit(group="g", ident="", rate="2/m").allowed
    # A real identity spelled like an internal marker is still its own bucket.
    for hostile in ("E|", "E", "None", "\x00", "unknown"):
        assert rate_limit_hit(group="g", ident=hostile, rate="2/m").allowed
    assert counter_ident("g", "") != counter_ident("g", "E|")
    # Length prefixing: ("a", "b|c") and ("a|b", "c") cannot collide.
    assert counter_ident("a", "b|c") != counter_ident("a|b", "c")


def test_counter_keys_are_bounded_and_never_contain_the_identity():
    hostile = "user@example.com" + "x" * 5000 + "\r\n{}*?"
    rate_limit_hit(group="lookup", ident=hostile, rate="5/m")
    assert _stored_keys()
    assert all(len(key) < 120 for key in _stored_keys())
    assert not any("example.com" in key for key in _stored_keys())
    assert len(counter_ident("lookup", hostile)) == 64


def _stored_keys() -> list[str]:
    """Every key in the cache: local memory's dict, or Redis KEYS under this
    process's prefix (the db is shared with other xdist workers and servers)."""
    store = cache._cache
    if hasattr(store, "get_client"):
        return [key.decode() for key in store.get_client(None).keys(cache.make_key("*"))]
    return list(store.keys())


def test_enforce_raises_rate_limited_with_retry_after_and_ietf_headers():
    rate_limit_enforce(group="signup", ident="1.2.3.4", rates=["1/m", "10/d"])
    with pytest.raises(ProtectionError) as refused:
        rate_limit_enforce(group="signup", ident="1.2.3.4", rates=["1/m", "10/d"])
    error = refused.value
    assert error.code == "rate_limited" and error.status == 429
    assert 1 <= int(error.headers["Retry-After"]) <= 60
    assert error.headers["RateLimit-Policy"] == '"limit-1m";q=1;w=60, "limit-1d";q=10;w=86400'
    assert error.headers["RateLimit"].startswith('"limit-1m";r=0;t=')


def test_several_windows_each_apply():
    for _ in range(3):
        rate_limit_enforce(group="w", ident="x", rates=["100/m", "3/d"])
    with pytest.raises(ProtectionError):
        rate_limit_enforce(group="w", ident="x", rates=["100/m", "3/d"])


def test_distinct_hit_counts_new_members_only():
    for _ in range(5):
        assert rate_limit_distinct_hit(group="ids", ident="ip", member="a@x", rate="2/h").allowed
    assert rate_limit_distinct_hit(group="ids", ident="ip", member="b@x", rate="2/h").allowed
    assert not rate_limit_distinct_hit(group="ids", ident="ip", member="c@x", rate="2/h").allowed


@pytest.mark.parametrize(
    "rate,expected",
    [("10/m", (10, 60)), ("100/d", (100, 86400)), ("5/15m", (5, 900)), ("0/s", (0, 1))],
)
def test_rate_parse(rate, expected):
    assert rate_parse(rate) == expected


@pytest.mark.parametrize(
    "rate", ["10", "10/x", "ten/m", "-1/m", "10/0m", "1/999d", "", 10, ["10/m"], {"q": 1}]
)
def test_rate_parse_rejects_garbage(rate):
    with pytest.raises(ValueError):
        rate_parse(rate)


def test_overrides_replace_defaults_per_group_and_dimension(settings):
    settings.GATEHOUSE = {
        **settings.GATEHOUSE,
        "RATE_LIMITS": {"lookup": {"ip": ["5/m"], "key": ["100/m"], "session": ["10/m"]}},
    }
    key = ApiKey(rate_limit_overrides={"lookup": {"key": ["1000/m", "5000/d"], "session": []}})
    assert group_rates("lookup", api_key=key) == {
        "ip": ["5/m"],
        "key": ["1000/m", "5000/d"],
        "session": [],
    }
    assert group_rates("lookup") == {"ip": ["5/m"], "key": ["100/m"], "session": ["10/m"]}
    assert group_rates("unknown-group") == {}
    broken = ApiKey(rate_limit_overrides={"lookup": {"key": "lots"}})
    assert group_rates("lookup", api_key=broken)["key"] == ["100/m"]


@pytest.mark.parametrize(
    "value",
    [
        [],
        {"lookup": ["10/m"]},
        {"lookup": {"key": "10/m"}},
        {"lookup": {"key": ["10/minute"]}},
        {"lookup": {"ip": ["10/m"]}},
        {"lookup": {"planet": ["10/m"]}},
        {"": {"key": ["10/m"]}},
    ],
)
def test_override_validator_rejects_bad_shapes(value):
    with pytest.raises(ValidationError):
        validate_rate_limit_overrides(value)


@pytest.mark.django_db
def test_admin_form_reports_bad_overrides_as_field_errors(api_key):
    """The admin edits ApiKey through a ModelForm: bad input is a form error, not a 500."""
    key, _raw = api_key
    form_class = modelform_factory(ApiKey, fields=["rate_limit_overrides"])
    for bad in ('{"lookup": {"key": ["ten per minute"]}}', "{not json", '["10/m"]'):
        form = form_class(data={"rate_limit_overrides": bad}, instance=key)
        assert not form.is_valid()
        assert "rate_limit_overrides" in form.errors
    good = form_class(data={"rate_limit_overrides": '{"lookup": {"key": ["50/m"]}}'}, instance=key)
    assert good.is_valid(), good.errors
    good.save()
    key.refresh_from_db()
    assert key.rate_limit_overrides == {"lookup": {"key": ["50/m"]}}


def _count(group, ident="a", rate="9/m"):
    return rate_limit_hit(group=group, ident=ident, rate=rate, increment=False).count


@pytest.mark.parametrize("batch", [False, True])
def test_the_leading_items_are_all_counted_then_a_refusal_stops_the_rest(settings, batch):
    # On Redis both the script and get_usage; elsewhere get_usage either way.
    settings.GATEHOUSE = {**settings.GATEHOUSE, "RATE_LIMIT_BATCH": batch}
    rate_limit_hit(group="minute", ident="a", rate="1/m")  # spent
    items = [
        Hit("minute", "a", "1/m"),
        Hit("day", "a", "100/d"),
        Hit("later", "a", "9/m"),
    ]
    results = rate_limit_hit_many(items, stop_at_refusal=True, always_count=2)
    assert [r.allowed for r in results] == [False, True]  # "later" was not counted
    assert (_count("minute", rate="1/m"), _count("day", rate="100/d"), _count("later")) == (2, 1, 0)
    # Without always_count the first refusal stops at once.
    results = rate_limit_hit_many(items, stop_at_refusal=True)
    assert len(results) == 1
    assert (_count("minute", rate="1/m"), _count("day", rate="100/d")) == (3, 1)
