"""Client blocks: by IP, network, API key, session, device or email domain.

``models`` (``BlockedClient`` and value spelling), ``ruleset`` (the compiled
in-process list and its refresh) and ``services`` (create, lift, check,
purge). Rules that block on repeated denials are ``protection.policy.autoblock``.
"""

from protection.blocks.models import BlockedClient, block_value_normalize
from protection.blocks.ruleset import blocks_version_bump, registry
from protection.blocks.services import (
    block_create,
    block_lift,
    block_target,
    block_update,
    blocks_changed,
    blocks_check,
    blocks_flush_hits,
    blocks_lift,
    blocks_purge_expired,
)

__all__ = [
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
