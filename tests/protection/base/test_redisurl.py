"""One parser for REDIS_URL in every mode: what each form means, and what is refused."""

import pytest

from protection.base.redisurl import RedisUrlError, redis_url_parse


def test_single_is_the_url_as_given():
    target = redis_url_parse("redis://:s3cret@cache.example:6380/4")
    assert target.mode == "single"
    assert target.hosts == (("cache.example", 6380),)
    assert target.db == 4
    assert target.password == "s3cret"
    assert "s3cret" not in repr(target)


def test_single_defaults_and_tls_and_unix_socket():
    assert redis_url_parse("redis://cache.example").hosts == (("cache.example", 6379),)
    assert redis_url_parse("rediss://cache.example/0").tls is True
    assert redis_url_parse("unix:///run/redis.sock?db=2").url == "unix:///run/redis.sock?db=2"


def test_sentinel_lists_the_sentinels_and_names_the_service():
    target = redis_url_parse(
        "redis://user:pw@s1.example,s2.example:26380,[2001:db8::7]/3",
        mode="sentinel",
        service="gh-primary",
    )
    assert target.hosts == (
        ("s1.example", 26379),
        ("s2.example", 26380),
        ("2001:db8::7", 26379),
    )
    assert target.db == 3
    assert (target.username, target.password) == ("user", "pw")
    assert target.service == "gh-primary"
    assert target.connection_kwargs() == {"username": "user", "password": "pw"}


def test_sentinel_password_may_ride_in_the_query():
    target = redis_url_parse(
        "redis://s1:26379,s2:26379/0?sentinel_password=watch%21", mode="sentinel", service="p"
    )
    assert target.sentinel_password == "watch!"


def test_cluster_lists_seed_nodes_on_database_zero():
    target = redis_url_parse("redis://n1:7000,n2:7001,[2001:db8::1]:7002", mode="cluster")
    assert target.hosts == (("n1", 7000), ("n2", 7001), ("2001:db8::1", 7002))
    assert target.db == 0
    assert redis_url_parse("redis://n1:7000/0", mode="cluster").db == 0


@pytest.mark.parametrize(
    ("url", "mode", "service", "says"),
    [
        ("http://cache.example", "single", "", "redis://"),
        ("cache.example:6379", "single", "", "redis://"),
        ("redis://a:1,b:2", "single", "", "GATEHOUSE_REDIS_MODE"),
        ("redis://s1:26379,s2:26379", "sentinel", "", "GATEHOUSE_REDIS_SENTINEL_SERVICE"),
        ("redis://n1:7000/2", "cluster", "", "only database 0"),
        ("redis://n1:7000,,n2:7001", "cluster", "", "empty"),
        ("redis://n1:70000", "cluster", "", "1 to 65535"),
        ("redis://n1:port", "cluster", "", "1 to 65535"),
        ("redis://2001:db8::1:7000", "cluster", "", "brackets"),
        ("redis://[2001:db8::1:7000", "cluster", "", "closing bracket"),
        ("redis://cache.example/zero", "single", "", "not a number"),
        ("unix:///run/redis.sock", "cluster", "", "unix socket"),
        ("redis://cache.example", "ring", "", "not one of"),
    ],
)
def test_what_does_not_fit_its_mode_is_refused_saying_why(url, mode, service, says):
    with pytest.raises(RedisUrlError, match=says):
        redis_url_parse(url, mode=mode, service=service)


def test_an_error_never_repeats_the_password():
    with pytest.raises(RedisUrlError) as raised:
        redis_url_parse("redis://:hunter2@n1:7000/5", mode="cluster")
    assert "hunter2" not in str(raised.value)
