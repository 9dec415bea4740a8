"""App Attest assertions: a request signed by a device key attested before.

The assertion (CBOR: signature and authenticator data) signs the client
data, which names a fresh server challenge and the request's method and
path; the signature must check with the stored key, the RP id hash must be
the key's app, and the sign counter must grow (one conditional UPDATE, so
of two concurrent requests with the same counter exactly one passes).
"""

import base64
import datetime
import functools
import hashlib
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.utils import timezone

from protection.attestation.app_attest.challenges import client_data_check
from protection.attestation.app_attest.models import AppAttestKey
from protection.attestation.app_attest.refusals import app_attest_refuse
from protection.attestation.app_attest.wire import (
    KEY_ID_BYTES,
    MAX_ASSERTION_BYTES,
    MAX_CLIENT_DATA_BYTES,
    AttestedDevice,
    Refused,
    b64decode,
    cbor_map,
    invalid,
)
from protection.base.processstate import process_state_register


def verify_assertion(
    *,
    key_id: str,
    assertion: str,
    client_data: str,
    api_key: Any,
    method: str | None = None,
    path: str | None = None,
    client_ip: str | None = None,
    session_id: Any = None,
    now: datetime.datetime | None = None,
) -> AttestedDevice:
    """Verify an App Attest assertion against the stored key.

    ``method`` / ``path``: when given, the client data must name them, so an
    assertion made for one endpoint is not accepted on another. Raises
    ProtectionError ``attestation_invalid``, or ``attestation_replayed`` when
    the sign counter did not grow.
    """
    now = now or timezone.now()
    try:
        return _assertion_verify(
            key_id=key_id,
            assertion=assertion,
            client_data=client_data,
            api_key=api_key,
            method=method,
            path=path,
            now=now,
        )
    except Refused as exc:
        raise app_attest_refuse(
            exc, key_id=key_id, client_ip=client_ip, api_key=api_key, session_id=session_id
        ) from None


def _assertion_verify(
    *,
    key_id: str,
    assertion: str,
    client_data: str,
    api_key: Any,
    method: str | None,
    path: str | None,
    now: datetime.datetime,
) -> AttestedDevice:
    key_id_bytes = b64decode(key_id, limit=KEY_ID_BYTES)
    client_data_bytes = b64decode(client_data, limit=MAX_CLIENT_DATA_BYTES)
    client_data_check(client_data_bytes, method=method, path=path, now=now.timestamp())
    fields = cbor_map(b64decode(assertion, limit=MAX_ASSERTION_BYTES))
    signature, auth_data = fields.get("signature"), fields.get("authenticatorData")
    if not isinstance(signature, bytes) or not isinstance(auth_data, bytes) or len(auth_data) < 37:
        raise invalid("malformed")
    canonical_key_id = base64.b64encode(key_id_bytes).decode("ascii")
    public_key, app_id = _stored_key(canonical_key_id, api_key.pk)
    nonce = hashlib.sha256(auth_data + hashlib.sha256(client_data_bytes).digest()).digest()
    try:
        public_key.verify(signature, nonce, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise invalid("bad_signature") from None
    if auth_data[:32] != hashlib.sha256(app_id.encode("utf-8")).digest():
        raise invalid("rp_id_mismatch")
    counter = int.from_bytes(auth_data[33:37], "big")
    # One conditional UPDATE: of two concurrent requests with the same counter,
    # exactly one moves it.
    mine = AppAttestKey.objects.filter(key_id=canonical_key_id, api_key=api_key)
    if not mine.filter(sign_count__lt=counter).update(sign_count=counter, last_used_at=now):
        if not mine.exists():  # deleted since it was cached
            _stored_key.cache_clear()
            raise invalid("unknown_key")
        raise Refused("attestation_replayed", "stale_counter")
    return AttestedDevice(key_id=canonical_key_id, app_id=app_id, sign_count=counter)


@functools.lru_cache(maxsize=4096)
def _stored_key(key_id: str, api_key_pk: int) -> tuple[ec.EllipticCurvePublicKey, str]:
    """The attested public key and app id of ``key_id`` under this API key.

    Both never change once attested, so each process keeps them: an assertion
    then costs one UPDATE (the counter), not a SELECT as well. A miss raises
    and is not cached.
    """
    row = (
        AppAttestKey.objects.filter(key_id=key_id, api_key_id=api_key_pk)
        .values_list("public_key", "app_id")
        .first()
    )
    if row is None:
        raise invalid("unknown_key")
    public_key = serialization.load_der_public_key(bytes(row[0]))
    assert isinstance(public_key, ec.EllipticCurvePublicKey)  # only P-256 keys are stored
    return public_key, row[1]


process_state_register("App Attest stored keys", _stored_key.cache_clear)
