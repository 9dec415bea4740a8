"""Test support for App Attest: a fake Apple (root and intermediate CA made at
test time) and a fake device that attests its key and signs assertions the
way DCAppAttestService does, with every field overridable to forge bad ones."""

import base64
import datetime
import hashlib
import json
from typing import Any

import cbor2
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from protection.attestation.app_attest import (
    AAGUIDS,
    NONCE_EXTENSION_OID,
    app_attest_challenge_issue,
)

APP_ID = "ABCDE12345.com.example.signup"
NOW = datetime.datetime.now(datetime.UTC)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _certificate(
    *,
    subject: str,
    public_key: Any,
    issuer: str,
    issuer_key: Any,
    ca: bool,
    extensions: tuple[x509.ExtensionType, ...] = (),
    not_before: datetime.datetime | None = None,
    not_after: datetime.datetime | None = None,
) -> x509.Certificate:
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before or NOW - datetime.timedelta(days=1))
        .not_valid_after(not_after or NOW + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    for extension in extensions:
        builder = builder.add_extension(extension, critical=False)
    return builder.sign(issuer_key, hashes.SHA384() if ca else hashes.SHA256())


def _der(tag: int, content: bytes) -> bytes:
    assert len(content) < 128
    return bytes([tag, len(content)]) + content


def nonce_extension(nonce: bytes) -> bytes:
    """Apple's encoding: SEQUENCE { [1] EXPLICIT OCTET STRING nonce }."""
    return _der(0x30, _der(0xA1, _der(0x04, nonce)))


class FakeApple:
    """A root and an intermediate CA standing in for Apple's."""

    def __init__(self, name: str = "Test App Attestation Root CA") -> None:
        self.root_key = ec.generate_private_key(ec.SECP384R1())
        self.root = _certificate(
            subject=name,
            public_key=self.root_key.public_key(),
            issuer=name,
            issuer_key=self.root_key,
            ca=True,
        )
        self.intermediate_key = ec.generate_private_key(ec.SECP384R1())
        self.intermediate = _certificate(
            subject="Test App Attestation CA 1",
            public_key=self.intermediate_key.public_key(),
            issuer=name,
            issuer_key=self.root_key,
            ca=True,
        )

    @property
    def root_pem(self) -> str:
        return self.root.public_bytes(serialization.Encoding.PEM).decode("ascii")

    def leaf(
        self, public_key: Any, nonce: bytes | None, *, encode: Any = None, **overrides: Any
    ) -> x509.Certificate:
        """A device certificate; ``encode(nonce)`` replaces Apple's extension encoding."""
        extensions = ()
        if nonce is not None:
            value = (encode or nonce_extension)(nonce)
            extensions = (x509.UnrecognizedExtension(NONCE_EXTENSION_OID, value),)
        fields = {
            "subject": "device key",
            "public_key": public_key,
            "issuer": "Test App Attestation CA 1",
            "issuer_key": self.intermediate_key,
            "ca": False,
            "extensions": extensions,
            **overrides,
        }
        return _certificate(**fields)


class FakeDevice:
    """One app install: a Secure Enclave P-256 key and its App Attest key id."""

    def __init__(self, apple: FakeApple, app_id: str = APP_ID) -> None:
        self.apple = apple
        self.app_id = app_id
        self.key = ec.generate_private_key(ec.SECP256R1())
        point = self.key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        self.key_id_bytes = hashlib.sha256(point).digest()
        self.key_id = b64(self.key_id_bytes)
        self.counter = 0

    @staticmethod
    def client_data(challenge: str | None = None, **fields: Any) -> bytes:
        data = {"challenge": challenge or app_attest_challenge_issue(), **fields}
        return json.dumps(data).encode()

    def attest(
        self,
        client_data: bytes,
        *,
        rp_app_id: str | None = None,
        counter: int = 0,
        aaguid: bytes = AAGUIDS["production"],
        credential_id: bytes | None = None,
        nonce_over: bytes | None = None,
        with_nonce: bool = True,
        fmt: str = "apple-appattest",
        issuers: list[x509.Certificate] | None = None,
        leaf_overrides: dict[str, Any] | None = None,
        auth_data_length: int | None = None,
        x5c: list[Any] | None = None,
    ) -> str:
        """The base64 attestation object for ``client_data`` (forgeable)."""
        credential_id = self.key_id_bytes if credential_id is None else credential_id
        auth_data = (
            hashlib.sha256((rp_app_id or self.app_id).encode()).digest()
            + b"\x40"
            + counter.to_bytes(4, "big")
            + aaguid
            + len(credential_id).to_bytes(2, "big")
            + credential_id
            + cbor2.dumps({1: 2, 3: -7})  # the COSE key (not read by the server)
        )[:auth_data_length]
        nonce = hashlib.sha256(
            auth_data + hashlib.sha256(nonce_over or client_data).digest()
        ).digest()
        leaf = self.apple.leaf(
            self.key.public_key(), nonce if with_nonce else None, **(leaf_overrides or {})
        )
        certificates = [leaf, *(issuers if issuers is not None else [self.apple.intermediate])]
        statement = {
            "fmt": fmt,
            "attStmt": {
                "x5c": x5c
                if x5c is not None
                else [c.public_bytes(serialization.Encoding.DER) for c in certificates],
                "receipt": b"apple-receipt",
            },
            "authData": auth_data,
        }
        return b64(cbor2.dumps(statement))

    def assertion(
        self,
        client_data: bytes,
        *,
        counter: int | None = None,
        rp_app_id: str | None = None,
        signing_key: Any = None,
        signed_client_data: bytes | None = None,
    ) -> str:
        """The base64 assertion object over ``client_data``; the counter grows by one."""
        if counter is None:
            self.counter += 1
            counter = self.counter
        auth_data = (
            hashlib.sha256((rp_app_id or self.app_id).encode()).digest()
            + b"\x40"
            + counter.to_bytes(4, "big")
        )
        nonce = hashlib.sha256(
            auth_data + hashlib.sha256(signed_client_data or client_data).digest()
        ).digest()
        signature = (signing_key or self.key).sign(nonce, ec.ECDSA(hashes.SHA256()))
        return b64(cbor2.dumps({"signature": signature, "authenticatorData": auth_data}))
