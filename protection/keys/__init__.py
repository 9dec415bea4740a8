"""API keys: which client application is calling (the *what*).

A small package: ``models`` (ApiKey, statuses, validation), ``services``
(create, update, rotate, revoke), ``verify`` (the per-request check and
scope/origin rules), ``cache`` (the one-second per-process cache and the
known public ids), ``version`` (the keys version every request reads, so a
revocation applies at the next request), ``network_policy`` (what each
network class meets, globally and per key) and ``selectors`` (finding keys
by public id or name). Import from here.
"""

from protection.keys.cache import verified_keys
from protection.keys.models import (
    CAPTCHAS,
    SCOPES,
    VERIFICATIONS,
    ApiKey,
    ApiKeyStatus,
    api_key_status,
    clean_origins,
    clean_scopes,
    clean_verifications,
)
from protection.keys.network_policy import (
    NetworkDecision,
    network_policy_clean,
    network_policy_decide,
    network_policy_pow_max_number,
)
from protection.keys.selectors import api_key_find
from protection.keys.services import (
    api_key_create,
    api_key_revoke,
    api_key_rotate,
    api_key_update,
)
from protection.keys.verify import (
    api_key_query_refusal,
    api_key_recheck,
    api_key_require_scope,
    api_key_verify,
    origin_allowed,
)
from protection.keys.version import KEYS_VERSION_KEY, keys_version, keys_version_reads

__all__ = [
    "CAPTCHAS",
    "KEYS_VERSION_KEY",
    "SCOPES",
    "VERIFICATIONS",
    "ApiKey",
    "ApiKeyStatus",
    "NetworkDecision",
    "api_key_create",
    "api_key_find",
    "api_key_query_refusal",
    "api_key_recheck",
    "api_key_require_scope",
    "api_key_revoke",
    "api_key_rotate",
    "api_key_status",
    "api_key_update",
    "api_key_verify",
    "clean_origins",
    "clean_scopes",
    "clean_verifications",
    "network_policy_clean",
    "network_policy_decide",
    "network_policy_pow_max_number",
    "keys_version",
    "keys_version_reads",
    "origin_allowed",
    "verified_keys",
]
