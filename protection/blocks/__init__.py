"""Client blocks: by IP, network, API key, session, device, email domain, AS
number, country, network class or phone number prefix.

``models`` (``BlockedClient``, value spelling, the version row), ``ruleset``
(the compiled in-process list and its refresh), ``services`` (create, lift,
update, purge) and ``check`` (``blocks_check`` and hit counting). Rules that
block on repeated denials are ``protection.policy.autoblock``.
"""

from protection.blocks.check import blocks_check, blocks_flush_hits
from protection.blocks.models import BlockedClient, block_value_normalize
from protection.blocks.ruleset import VERSION_CACHE_KEY, blocks_version_bump, registry
from protection.blocks.services import (
    block_create,
    block_lift,
    block_target,
    block_update,
    blocks_changed,
    blocks_lift,
    blocks_purge_expired,
)

__all__ = [
    "VERSION_CACHE_KEY",
    "BlockedClient",
    "block_create",
    "block_lift",
    "block_target",
    "block_update",
    "blocks_changed",
    "block_value_normalize",
    "blocks_check",
    "blocks_flush_hits",
    "blocks_lift",
    "blocks_purge_expired",
    "blocks_version_bump",
    "registry",
]
