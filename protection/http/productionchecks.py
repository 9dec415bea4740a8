"""Production configuration that would be silently unsafe: system checks and the start guard.

- protection.E220 (``check --deploy``): DEBUG off on a per-process cache (no
  ``REDIS_URL``). Every worker would keep its own rate-limit counters,
  replay stores and revocation marks: a limit of 30 admits workers x 30, one
  DPoP proof is accepted once per worker. The WSGI/ASGI start refuses it too
  (``local_cache_refusal``, called by ``config.startup``), unless
  ``GATEHOUSE_ALLOW_LOCAL_CACHE=1`` says a single process is meant. It is a
  deploy check, so ``migrate`` and the other commands keep working.
- protection.W220: an API key requires evidence (``dpop``, ``approov``,
  ``app_check``, ``app_attest``) that this deployment cannot check, because
  the setting it needs is unset: every session start of that key is refused
  (503). Keys are data, so it warns and never stops the server.
"""

import logging
from typing import Any

from django.conf import settings
from django.core import checks

from protection.conf import gatehouse_settings

logger = logging.getLogger("gatehouse.checks")

PER_PROCESS_CACHES = {
    "django.core.cache.backends.locmem.LocMemCache",
    "django.core.cache.backends.dummy.DummyCache",
    "django.core.cache.backends.filebased.FileBasedCache",
}
# The settings each evidence needs, as operators set them (for the message).
EVIDENCE_SETTINGS = {
    "dpop": "GATEHOUSE_PUBLIC_BASE_URL",
    "approov": "GATEHOUSE_APPROOV_SECRET (or the key's named secret, or APPROOV_PUBLIC_KEY)",
    "app_check": "GATEHOUSE_APPCHECK_PROJECT_NUMBER and GATEHOUSE_APPCHECK_APP_IDS",
    "app_attest": "GATEHOUSE_APP_ATTEST_APP_IDS",
}


def local_cache_refusal() -> str:
    """Why this production process must not start on its cache ("" when it may)."""
    backend = settings.CACHES.get("default", {}).get("BACKEND", "")
    if settings.DEBUG or backend not in PER_PROCESS_CACHES:
        return ""
    if gatehouse_settings.ALLOW_LOCAL_CACHE:
        return ""
    return (
        f"DEBUG is off and the default cache ({backend}) is per process: rate limits, "
        "replay stores and revocations would not be shared between workers. Set REDIS_URL, "
        "or GATEHOUSE_ALLOW_LOCAL_CACHE=1 for a deliberate single-process deployment."
    )


@checks.register(checks.Tags.caches, deploy=True)
def check_production_cache(app_configs: Any, **kwargs: Any) -> list[checks.CheckMessage]:
    problem = local_cache_refusal()
    return [checks.Error(problem, id="protection.E220")] if problem else []


def _unverifiable(api_key: Any) -> list[str]:
    from protection.attestation import attestation_verifiers

    missing = []
    for name in api_key.required_verifications or ():
        if name == "dpop":
            if not gatehouse_settings.PUBLIC_BASE_URL:
                missing.append(name)
            continue
        verifier = attestation_verifiers().get(name)
        if name in EVIDENCE_SETTINGS and (
            verifier is None or not verifier.configured(api_key=api_key)
        ):
            missing.append(name)
    return missing


@checks.register()
def check_key_evidence_settings(app_configs: Any, **kwargs: Any) -> list[checks.CheckMessage]:
    from protection.keys.models import ApiKey

    try:
        keys = [key for key in ApiKey.objects.filter(revoked_at__isnull=True) if key.is_active()]
    except Exception:  # no tables yet (before migrate), no database, or no access in tests
        logger.debug("keys' evidence settings not checked", exc_info=True)
        return []
    messages: list[checks.CheckMessage] = []
    for api_key in keys:
        for name in _unverifiable(api_key):
            messages.append(
                checks.Warning(
                    f"API key {api_key.name!r} ({api_key.public_id}) requires {name}, but "
                    f"{EVIDENCE_SETTINGS[name]} is unset: its sessions are refused (503).",
                    hint=f"Set {EVIDENCE_SETTINGS[name]}, or remove {name} from the key's "
                    "required verifications.",
                    id="protection.W220",
                )
            )
    return messages
