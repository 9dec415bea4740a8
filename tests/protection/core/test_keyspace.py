"""Key names: untagged on one Redis, tagged per owner on a cluster (one slot per owner)."""

import pytest
from redis.crc import key_slot

from protection.core.keyspace import (
    SHARDS,
    cluster_keys,
    global_key,
    owned_key,
    owner_shard,
    shard_tags,
)
from tests.support.topology import cache_settings


@pytest.fixture
def on_cluster(settings):
    # Parsed, never connected: the names do not need a live cluster.
    settings.CACHES = cache_settings("redis://127.0.0.1:1,127.0.0.1:2", "cluster")


def test_one_redis_keeps_every_name_as_it_was(settings):
    settings.CACHES = cache_settings("redis://127.0.0.1:1/0", "single")
    assert not cluster_keys()
    assert owned_key("gh:session:revoked:abc", owner="abc") == "gh:session:revoked:abc"
    assert global_key("gh:blocks:version") == "gh:blocks:version"
    assert shard_tags() == [""]


def test_sentinel_keeps_every_name_too(settings):
    settings.CACHES = cache_settings("redis://127.0.0.1:1", "sentinel", service="p")
    assert owned_key("gh:q", owner="s1") == "gh:q"


def test_a_cluster_puts_each_owner_in_one_slot_and_reveals_nothing(on_cluster):
    assert cluster_keys()
    first = owned_key("gh:quota:lookups", owner="203.0.113.7")
    second = owned_key("rl:0123abcd", owner="203.0.113.7")
    assert key_slot(first.encode()) == key_slot(second.encode())
    assert "203.0.113.7" not in first
    assert first.endswith("}") and first.count("{") == 1
    owners = {owner_shard(f"198.51.100.{n}") for n in range(200)}
    assert len(owners) > 150  # spread over the shards
    assert len(shard_tags()) == SHARDS
    assert global_key("gh:blocks:version") == "gh:blocks:version{gh:global}"


def test_the_shard_is_keyed_by_the_signing_key(on_cluster, settings):
    before = [owner_shard(f"owner-{n}") for n in range(50)]
    settings.GATEHOUSE = {**settings.GATEHOUSE, "SIGNING_KEY": "another-signing-key-" + "z" * 30}
    assert [owner_shard(f"owner-{n}") for n in range(50)] != before


def test_a_name_with_braces_is_refused(on_cluster):
    with pytest.raises(ValueError, match="braces"):
        owned_key("gh:{x}", owner="a")
