"""How an App Attest refusal is recorded: one deny event naming the verifier.

The key id a request names is only a claim until its signature checked: the
event carries it as ``details.device_id`` without ``device_verified``, so
automatic device blocks scope it to the API key and the claim and it can
never block the genuine device (``protection.policy.autoblock``).
"""

from typing import Any

from protection.attestation.app_attest.wire import NAME, Refused
from protection.base.exceptions import ProtectionError
from protection.core.events import refuse


def app_attest_refuse(
    exc: Refused, *, key_id: Any, client_ip: str | None, api_key: Any, session_id: Any = None
) -> ProtectionError:
    """Record ``exc`` (an ``attestation_invalid`` / ``attestation_replayed`` deny) and
    return the error to raise."""
    details: dict[str, Any] = {"verifier": NAME}
    if isinstance(key_id, str) and len(key_id) <= 64:
        details["device_id"] = key_id
    replayed = exc.code == "attestation_replayed"
    return refuse(
        exc.code,
        kind="attestation_replayed" if replayed else "attestation_invalid",
        reason=exc.reason,
        client_ip=client_ip,
        api_key=api_key,
        session_id=session_id,
        details=details,
    )
