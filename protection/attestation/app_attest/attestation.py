"""App Attest attestation objects, verified once per device key at session start.

The app sends its key id, the attestation object (CBOR) and the client data
it hashed. Checked as Apple's "Validating apps that connect to your server"
says: the certificate chain up to the pinned root (``certificates``), the
nonce extension, the key id, the RP id hash (one of
``APP_ATTEST_APP_IDS``), counter 0, the aaguid of ``APP_ATTEST_ENVIRONMENT``
and the credential id. The key is then stored (``AppAttestKey``); a key id
already stored is a copy (``attestation_replayed``). The receipt is kept
for a later fraud-metric call to Apple, not verified offline.
"""

import base64
import datetime
import hashlib
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.db import IntegrityError, transaction
from django.utils import timezone

from protection.attestation.app_attest.certificates import certificate_nonce, chain_verify
from protection.attestation.app_attest.challenges import client_data_check
from protection.attestation.app_attest.models import AppAttestKey
from protection.attestation.app_attest.refusals import app_attest_refuse
from protection.attestation.app_attest.wire import (
    KEY_ID_BYTES,
    MAX_ATTESTATION_BYTES,
    MAX_CLIENT_DATA_BYTES,
    AttestedDevice,
    Refused,
    b64decode,
    cbor_map,
    invalid,
)
from protection.conf import gatehouse_settings

ATTESTATION_FORMAT = "apple-appattest"
AAGUIDS = {"production": b"appattest" + b"\x00" * 7, "development": b"appattestdevelop"}


def _app_id_for(rp_id_hash: bytes) -> str:
    for app_id in gatehouse_settings.APP_ATTEST_APP_IDS:
        if hashlib.sha256(app_id.encode("utf-8")).digest() == rp_id_hash:
            return app_id
    raise invalid("rp_id_mismatch")


def verify_attestation(
    *,
    key_id: str,
    attestation: str,
    client_data: str,
    api_key: Any,
    client_ip: str | None = None,
    now: datetime.datetime | None = None,
) -> AttestedDevice:
    """Verify an App Attest attestation (session start) and store the device key.

    ``key_id``, ``attestation`` and ``client_data`` are the base64 header
    values as sent. Raises ProtectionError ``attestation_invalid``, or
    ``attestation_replayed`` for a key id already attested.
    """
    now = now or timezone.now()
    try:
        return _attestation_verify(
            key_id=key_id,
            attestation=attestation,
            client_data=client_data,
            api_key=api_key,
            now=now,
        )
    except Refused as exc:
        raise app_attest_refuse(exc, key_id=key_id, client_ip=client_ip, api_key=api_key) from None


def _attestation_verify(
    *, key_id: str, attestation: str, client_data: str, api_key: Any, now: datetime.datetime
) -> AttestedDevice:
    key_id_bytes = b64decode(key_id, limit=KEY_ID_BYTES)
    if len(key_id_bytes) != KEY_ID_BYTES:
        raise invalid("malformed")
    client_data_bytes = b64decode(client_data, limit=MAX_CLIENT_DATA_BYTES)
    client_data_check(client_data_bytes, method=None, path=None, now=now.timestamp())
    statement = cbor_map(b64decode(attestation, limit=MAX_ATTESTATION_BYTES))
    auth_data = statement.get("authData")
    att_stmt = statement.get("attStmt")
    if statement.get("fmt") != ATTESTATION_FORMAT:
        raise invalid("format")
    if not isinstance(auth_data, bytes) or len(auth_data) < 55 or not isinstance(att_stmt, dict):
        raise invalid("malformed")

    leaf = chain_verify(att_stmt.get("x5c"), now=now)
    client_data_hash = hashlib.sha256(client_data_bytes).digest()
    if certificate_nonce(leaf) != hashlib.sha256(auth_data + client_data_hash).digest():
        raise invalid("nonce_mismatch")
    public_key = leaf.public_key()
    if (
        not isinstance(public_key, ec.EllipticCurvePublicKey)
        or public_key.curve.name != "secp256r1"
    ):
        raise invalid("key_type")
    point = public_key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    if hashlib.sha256(point).digest() != key_id_bytes:
        raise invalid("key_id_mismatch")

    # authData: rpIdHash(32) flags(1) signCount(4) aaguid(16) credIdLen(2) credId ...
    app_id = _app_id_for(auth_data[:32])
    if int.from_bytes(auth_data[33:37], "big") != 0:
        raise invalid("counter_not_zero")
    environment = gatehouse_settings.APP_ATTEST_ENVIRONMENT
    if auth_data[37:53] != AAGUIDS.get(environment):
        raise invalid("aaguid_mismatch")
    credential_length = int.from_bytes(auth_data[53:55], "big")
    if auth_data[55 : 55 + credential_length] != key_id_bytes:
        raise invalid("credential_id_mismatch")

    receipt = att_stmt.get("receipt")
    canonical_key_id = base64.b64encode(key_id_bytes).decode("ascii")
    try:
        with transaction.atomic():
            AppAttestKey.objects.create(
                key_id=canonical_key_id,
                public_key=public_key.public_bytes(
                    serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
                ),
                sign_count=0,
                app_id=app_id,
                environment=environment,
                api_key=api_key,
                receipt=receipt if isinstance(receipt, bytes) else b"",
                created_at=now,
            )
    except IntegrityError:
        # Apple attests a key once: a second attestation of it is a copy.
        raise Refused("attestation_replayed", "key_already_attested") from None
    return AttestedDevice(key_id=canonical_key_id, app_id=app_id, sign_count=0)
