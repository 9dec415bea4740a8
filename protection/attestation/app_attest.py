"""Apple App Attest, verified offline: a device key attested once, then assertions.

At session start the app sends its App Attest key id, the attestation object
(CBOR) and the client data it hashed; the chain must end at the pinned Apple
App Attestation Root CA, and the key is stored (``AppAttestKey``). Later
requests carry an assertion signed by that key over fresh client data, with
a sign counter that must grow. The client data always holds a server
challenge (``app_attest_challenge_issue``), so nothing signed elsewhere or
long ago is accepted. Wire format: docs/dpop-and-app-attest.md.

Checks follow Apple's "Validating apps that connect to your server":
attestation (chain, nonce extension, key id, RP id hash, counter 0, aaguid,
credential id) and assertion (signature, RP id hash, counter strictly
increasing). Built on ``cryptography`` (certificates, ECDSA) and ``cbor2``;
pyattest is not on the package index this project installs from, and the
checks are short enough to keep in view here. The receipt is stored for a
later fraud-metric call to Apple, not verified offline.

Refusals are ``ProtectionError("attestation_invalid" | "attestation_replayed")``
and a deny event naming the verifier, the reason and the device (key id),
so automatic blocking counts them by IP and by device.
"""

import base64
import binascii
import datetime
import functools
import hashlib
import json
from pathlib import Path
from typing import Any, NamedTuple

import cbor2
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.db import IntegrityError, models, transaction
from django.utils import timezone

from protection.attestation.base import Attested, verifier_register
from protection.base.exceptions import ProtectionError
from protection.base.processstate import process_state_register
from protection.conf import gatehouse_settings
from protection.core.events import refuse
from protection.core.nonces import nonce_issue, nonce_verify

NAME = "app_attest"
ATTESTATION_FORMAT = "apple-appattest"
NONCE_EXTENSION_OID = x509.ObjectIdentifier("1.2.840.113635.100.8.2")
AAGUIDS = {"production": b"appattest" + b"\x00" * 7, "development": b"appattestdevelop"}
CHALLENGE_PURPOSE = "app-attest"
# Decoded sizes: a real attestation is ~5.5 KB (most of it the receipt), an
# assertion ~100 bytes; client data is a small JSON object.
MAX_ATTESTATION_BYTES = 16 * 1024
MAX_ASSERTION_BYTES = 1024
MAX_CLIENT_DATA_BYTES = 2048
KEY_ID_BYTES = 32
# Apple's public root (SHA-256 of the DER: 1cb9823b...c932), shipped beside this module.
ROOT_CA_FILE = Path(__file__).with_name("apple_app_attestation_root_ca.pem")


class AppAttestKey(models.Model):
    """A device key Apple attested for one of our apps; its counter guards replays."""

    key_id = models.CharField(max_length=64, unique=True)  # base64 of SHA-256(public key)
    public_key = models.BinaryField()  # DER SubjectPublicKeyInfo, P-256
    sign_count = models.BigIntegerField(default=0)
    app_id = models.CharField(max_length=255)
    environment = models.CharField(max_length=16)
    api_key = models.ForeignKey(
        "protection.ApiKey", on_delete=models.CASCADE, related_name="app_attest_keys"
    )
    receipt = models.BinaryField(blank=True, default=b"")
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        app_label = "protection"
        verbose_name = "App Attest key"

    def __str__(self) -> str:
        return f"{self.app_id} {self.key_id}"


class AttestedDevice(NamedTuple):
    """A verified App Attest key: ``device_id`` feeds the session and device blocks."""

    key_id: str
    app_id: str
    sign_count: int

    @property
    def device_id(self) -> str:
        return self.key_id


class _Refused(Exception):
    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def app_attest_challenge_issue(*, now: float | None = None) -> str:
    """A server challenge for App Attest client data (valid APP_ATTEST_CHALLENGE_LIFETIME s)."""
    return nonce_issue(purpose=CHALLENGE_PURPOSE, now=now)


@functools.lru_cache(maxsize=4)
def _root_certificate(pem: str) -> x509.Certificate:
    if not pem:
        pem = ROOT_CA_FILE.read_text()
    return x509.load_pem_x509_certificate(pem.encode("ascii"))


def _b64decode(value: Any, *, limit: int) -> bytes:
    """Standard or URL-safe base64, padding optional; refuse oversized input first."""
    if not isinstance(value, str | bytes) or not value or len(value) > limit * 4 // 3 + 4:
        raise _Refused("attestation_invalid", "malformed")
    text = value.decode("ascii", "replace") if isinstance(value, bytes) else value
    text = text.strip().replace("-", "+").replace("_", "/")
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise _Refused("attestation_invalid", "malformed") from None


def _cbor_map(data: bytes) -> dict[str, Any]:
    try:
        decoded = cbor2.loads(data)
    except Exception:  # cbor2 raises several types for hostile input
        raise _Refused("attestation_invalid", "malformed") from None
    if not isinstance(decoded, dict):
        raise _Refused("attestation_invalid", "malformed")
    return decoded


def _client_data_check(
    client_data: bytes, *, method: str | None, path: str | None, now: float | None
) -> None:
    """The client data is a JSON object holding a fresh server ``challenge``
    (and, for assertions, the request's ``method`` and ``path``)."""
    try:
        fields = json.loads(client_data)
    except ValueError:
        raise _Refused("attestation_invalid", "client_data_malformed") from None
    if not isinstance(fields, dict):
        raise _Refused("attestation_invalid", "client_data_malformed")
    if not nonce_verify(
        nonce=fields.get("challenge"),
        purpose=CHALLENGE_PURPOSE,
        max_age=gatehouse_settings.APP_ATTEST_CHALLENGE_LIFETIME,
        now=now,
    ):
        raise _Refused("attestation_invalid", "challenge_invalid")
    if method is not None and fields.get("method") != method.upper():
        raise _Refused("attestation_invalid", "method_mismatch")
    if path is not None and fields.get("path") != path:
        raise _Refused("attestation_invalid", "path_mismatch")


def _der_read(data: bytes, tag: int) -> tuple[bytes, bytes]:
    """Read one DER element with ``tag``: (its content, what follows)."""
    if len(data) < 2 or data[0] != tag:
        raise ValueError("unexpected tag")
    length, offset = data[1], 2
    if length & 0x80:
        count = length & 0x7F
        if not 1 <= count <= 2 or len(data) < 2 + count:
            raise ValueError("bad length")
        length, offset = int.from_bytes(data[2 : 2 + count], "big"), 2 + count
    if len(data) < offset + length:
        raise ValueError("truncated")
    return data[offset : offset + length], data[offset + length :]


def _certificate_nonce(certificate: x509.Certificate) -> bytes:
    # Apple's extension: SEQUENCE { [1] EXPLICIT OCTET STRING nonce }.
    try:
        extension = certificate.extensions.get_extension_for_oid(NONCE_EXTENSION_OID)
        sequence, _ = _der_read(extension.value.value, 0x30)  # type: ignore[attr-defined]
        tagged, _ = _der_read(sequence, 0xA1)
        nonce, _ = _der_read(tagged, 0x04)
    except (x509.ExtensionNotFound, ValueError, AttributeError):
        raise _Refused("attestation_invalid", "nonce_missing") from None
    return nonce


def _chain_verify(x5c: Any, *, now: datetime.datetime) -> x509.Certificate:
    """The leaf of ``x5c`` once every link up to the pinned root checks out."""
    if not isinstance(x5c, list) or not 1 <= len(x5c) <= 4:
        raise _Refused("attestation_invalid", "certificate_chain")
    root = _root_certificate(gatehouse_settings.APP_ATTEST_ROOT_CA_PEM)
    try:
        chain = [x509.load_der_x509_certificate(der) for der in x5c]
    except (TypeError, ValueError):
        raise _Refused("attestation_invalid", "certificate_chain") from None
    if chain[-1] == root:
        chain.pop()
    chain.append(root)
    for child, parent in zip(chain, chain[1:], strict=False):
        try:
            # Issuer name and signature; raises for any other key or algorithm.
            child.verify_directly_issued_by(parent)
            is_ca = parent.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
        except (ValueError, TypeError, InvalidSignature, x509.ExtensionNotFound):
            raise _Refused("attestation_invalid", "certificate_chain") from None
        if not is_ca:
            # A leaf must not vouch for another leaf.
            raise _Refused("attestation_invalid", "certificate_chain")
    for certificate in chain:
        if not certificate.not_valid_before_utc <= now <= certificate.not_valid_after_utc:
            raise _Refused("attestation_invalid", "certificate_expired")
    return chain[0]


def _app_id_for(rp_id_hash: bytes) -> str:
    for app_id in gatehouse_settings.APP_ATTEST_APP_IDS:
        if hashlib.sha256(app_id.encode("utf-8")).digest() == rp_id_hash:
            return app_id
    raise _Refused("attestation_invalid", "rp_id_mismatch")


def _refuse(
    exc: _Refused, *, key_id: Any, client_ip: str | None, api_key: Any, session_id: Any = None
) -> ProtectionError:
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
    except _Refused as exc:
        raise _refuse(exc, key_id=key_id, client_ip=client_ip, api_key=api_key) from None


def _attestation_verify(
    *, key_id: str, attestation: str, client_data: str, api_key: Any, now: datetime.datetime
) -> AttestedDevice:
    key_id_bytes = _b64decode(key_id, limit=KEY_ID_BYTES)
    if len(key_id_bytes) != KEY_ID_BYTES:
        raise _Refused("attestation_invalid", "malformed")
    client_data_bytes = _b64decode(client_data, limit=MAX_CLIENT_DATA_BYTES)
    _client_data_check(client_data_bytes, method=None, path=None, now=now.timestamp())
    statement = _cbor_map(_b64decode(attestation, limit=MAX_ATTESTATION_BYTES))
    auth_data = statement.get("authData")
    att_stmt = statement.get("attStmt")
    if statement.get("fmt") != ATTESTATION_FORMAT:
        raise _Refused("attestation_invalid", "format")
    if not isinstance(auth_data, bytes) or len(auth_data) < 55 or not isinstance(att_stmt, dict):
        raise _Refused("attestation_invalid", "malformed")

    leaf = _chain_verify(att_stmt.get("x5c"), now=now)
    client_data_hash = hashlib.sha256(client_data_bytes).digest()
    if _certificate_nonce(leaf) != hashlib.sha256(auth_data + client_data_hash).digest():
        raise _Refused("attestation_invalid", "nonce_mismatch")
    public_key = leaf.public_key()
    if (
        not isinstance(public_key, ec.EllipticCurvePublicKey)
        or public_key.curve.name != "secp256r1"
    ):
        raise _Refused("attestation_invalid", "key_type")
    point = public_key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    if hashlib.sha256(point).digest() != key_id_bytes:
        raise _Refused("attestation_invalid", "key_id_mismatch")

    # authData: rpIdHash(32) flags(1) signCount(4) aaguid(16) credIdLen(2) credId ...
    app_id = _app_id_for(auth_data[:32])
    if int.from_bytes(auth_data[33:37], "big") != 0:
        raise _Refused("attestation_invalid", "counter_not_zero")
    environment = gatehouse_settings.APP_ATTEST_ENVIRONMENT
    if auth_data[37:53] != AAGUIDS.get(environment):
        raise _Refused("attestation_invalid", "aaguid_mismatch")
    credential_length = int.from_bytes(auth_data[53:55], "big")
    if auth_data[55 : 55 + credential_length] != key_id_bytes:
        raise _Refused("attestation_invalid", "credential_id_mismatch")

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
        raise _Refused("attestation_replayed", "key_already_attested") from None
    return AttestedDevice(key_id=canonical_key_id, app_id=app_id, sign_count=0)


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
    """Verify an App Attest assertion (a later request) against the stored key.

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
    except _Refused as exc:
        raise _refuse(
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
    key_id_bytes = _b64decode(key_id, limit=KEY_ID_BYTES)
    client_data_bytes = _b64decode(client_data, limit=MAX_CLIENT_DATA_BYTES)
    _client_data_check(client_data_bytes, method=method, path=path, now=now.timestamp())
    fields = _cbor_map(_b64decode(assertion, limit=MAX_ASSERTION_BYTES))
    signature, auth_data = fields.get("signature"), fields.get("authenticatorData")
    if not isinstance(signature, bytes) or not isinstance(auth_data, bytes) or len(auth_data) < 37:
        raise _Refused("attestation_invalid", "malformed")
    canonical_key_id = base64.b64encode(key_id_bytes).decode("ascii")
    public_key, app_id = _stored_key(canonical_key_id, api_key.pk)
    nonce = hashlib.sha256(auth_data + hashlib.sha256(client_data_bytes).digest()).digest()
    try:
        public_key.verify(signature, nonce, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise _Refused("attestation_invalid", "bad_signature") from None
    if auth_data[:32] != hashlib.sha256(app_id.encode("utf-8")).digest():
        raise _Refused("attestation_invalid", "rp_id_mismatch")
    counter = int.from_bytes(auth_data[33:37], "big")
    # One conditional UPDATE: of two concurrent requests with the same counter,
    # exactly one moves it.
    mine = AppAttestKey.objects.filter(key_id=canonical_key_id, api_key=api_key)
    if not mine.filter(sign_count__lt=counter).update(sign_count=counter, last_used_at=now):
        if not mine.exists():  # deleted since it was cached
            _stored_key.cache_clear()
            raise _Refused("attestation_invalid", "unknown_key")
        raise _Refused("attestation_replayed", "stale_counter")
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
        raise _Refused("attestation_invalid", "unknown_key")
    public_key = serialization.load_der_public_key(bytes(row[0]))
    assert isinstance(public_key, ec.EllipticCurvePublicKey)  # only P-256 keys are stored
    return public_key, row[1]


# Per-process memo: a reset (between tests, in a fresh worker) forgets rows that are gone.
process_state_register("attested device keys", _stored_key.cache_clear)


class AppAttestVerifier:
    """The App Attest verifier under its contract name, ``app_attest``."""

    name = NAME

    def challenge_issue(self, *, now: float | None = None) -> str:
        return app_attest_challenge_issue(now=now)

    def verify_attestation(self, **kwargs: Any) -> AttestedDevice:
        return verify_attestation(**kwargs)

    def verify_assertion(self, **kwargs: Any) -> AttestedDevice:
        return verify_assertion(**kwargs)


app_attest = AppAttestVerifier()


class _AppAttestEvidence:
    """``app_attest`` behind the one attestation interface (``attestation_verify``).

    A session starts with an attestation (or, from an app that attested
    before, an assertion); later requests of keys that attest every request
    send an assertion. The headers are those of the wire format above; the
    request's method and path come as the evidence entries ``:method`` and
    ``:path`` (the edge adds them), so an assertion cannot be replayed on
    another endpoint. Refusals record their own event and raise.
    """

    name = NAME

    def evidence_keys(self) -> tuple[str, ...]:
        return ("x-apple-appattest-keyid",)

    def configured(self, *, api_key: Any) -> bool:
        return bool(gatehouse_settings.APP_ATTEST_APP_IDS)

    def verify(
        self,
        *,
        api_key: Any,
        evidence: Any,
        purpose: str,
        bound_value: str | None,
        now: datetime.datetime,
    ) -> Attested:
        key_id = evidence.get("x-apple-appattest-keyid", "")
        client_data = evidence.get("x-apple-appattest-clientdata", "")
        attestation = evidence.get("x-apple-appattest-attestation")
        if purpose == "session" and attestation:
            device = verify_attestation(
                key_id=key_id, attestation=attestation, client_data=client_data, api_key=api_key,
                now=now,
            )  # fmt: skip
        else:
            device = verify_assertion(
                key_id=key_id,
                assertion=evidence.get("x-apple-appattest-assertion", ""),
                client_data=client_data,
                api_key=api_key,
                method=evidence.get(":method"),
                path=evidence.get(":path"),
                now=now,
            )
        return Attested(verifier=NAME, device_id=device.device_id)


verifier_register(_AppAttestEvidence())
