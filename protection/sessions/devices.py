"""Device ids: verified ones stand for a device, claimed ones only for a claim.

A device id is *verified* when an attestation vouched for it (App Attest's
key id, Approov's ``did``); one a client merely sends (``device_id`` in the
body, ``X-Device-Id``, the key id of an App Attest request that failed) is
*claimed*. Anyone can claim any id, so a claimed id may never lead to a
block that stops the verified device: automatic blocks of a claimed id are
made on ``device_claim_value(api_key_public_id, device_id)``, a value scoped
to the API key and the claim (``claimed:<public id>:<digest>``) that only
requests claiming that id under that key are checked against. A verified
device is checked against its id alone; a manual block of an id (staff's
decision) stops verified and claimed uses of it alike.
"""

import hashlib

CLAIMED_PREFIX = "claimed:"


def device_claim_value(*, api_key_public_id: str, device_id: str) -> str:
    """The device block value of ``device_id`` claimed under a key (never a verified id).

    The claim is hashed (SHA-256, first 32 hex) so the value stays short and
    printable whatever the client sent; staff can compute it from a claimed
    id they see on a session.
    """
    digest = hashlib.sha256(device_id.encode("utf-8", "replace")).hexdigest()[:32]
    return f"{CLAIMED_PREFIX}{api_key_public_id}:{digest}"


def device_block_values(*, device_id: str, verified: bool, api_key_public_id: str) -> list[str]:
    """The device block values a request with this device is checked against."""
    if not device_id:
        return []
    if verified:
        return [device_id]
    return [device_id, device_claim_value(api_key_public_id=api_key_public_id, device_id=device_id)]
