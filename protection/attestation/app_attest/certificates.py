"""The attestation's certificate chain: every link up to the pinned Apple root,
and the nonce Apple puts in the leaf.

Apple's App Attestation Root CA (SHA-256 of the DER: 1cb9823b...c932) ships
beside the attestation package; ``APP_ATTEST_ROOT_CA_PEM`` replaces it (tests
inject their own root).
"""

import datetime
import functools
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature

from protection.attestation.app_attest.wire import invalid
from protection.base.processstate import process_state_register
from protection.conf import gatehouse_settings

NONCE_EXTENSION_OID = x509.ObjectIdentifier("1.2.840.113635.100.8.2")
ROOT_CA_FILE = Path(__file__).parent.parent / "apple_app_attestation_root_ca.pem"


@functools.lru_cache(maxsize=4)
def _root_certificate(pem: str) -> x509.Certificate:
    if not pem:
        pem = ROOT_CA_FILE.read_text()
    return x509.load_pem_x509_certificate(pem.encode("ascii"))


process_state_register("App Attest root certificate", _root_certificate.cache_clear)


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


def certificate_nonce(certificate: x509.Certificate) -> bytes:
    """The nonce of Apple's extension: SEQUENCE { [1] EXPLICIT OCTET STRING nonce }."""
    try:
        extension = certificate.extensions.get_extension_for_oid(NONCE_EXTENSION_OID)
        sequence, _ = _der_read(extension.value.value, 0x30)  # type: ignore[attr-defined]
        tagged, _ = _der_read(sequence, 0xA1)
        nonce, _ = _der_read(tagged, 0x04)
    except (x509.ExtensionNotFound, ValueError, AttributeError):
        raise invalid("nonce_missing") from None
    return nonce


def chain_verify(x5c: Any, *, now: datetime.datetime) -> x509.Certificate:
    """The leaf of ``x5c`` once every link up to the pinned root checks out."""
    if not isinstance(x5c, list) or not 1 <= len(x5c) <= 4:
        raise invalid("certificate_chain")
    root = _root_certificate(gatehouse_settings.APP_ATTEST_ROOT_CA_PEM)
    try:
        chain = [x509.load_der_x509_certificate(der) for der in x5c]
    except (TypeError, ValueError):
        raise invalid("certificate_chain") from None
    if chain[-1] == root:
        chain.pop()
    chain.append(root)
    for child, parent in zip(chain, chain[1:], strict=False):
        try:
            # Issuer name and signature; raises for any other key or algorithm.
            child.verify_directly_issued_by(parent)
            is_ca = parent.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
        except (ValueError, TypeError, InvalidSignature, x509.ExtensionNotFound):
            raise invalid("certificate_chain") from None
        if not is_ca:
            # A leaf must not vouch for another leaf.
            raise invalid("certificate_chain")
    for certificate in chain:
        if not certificate.not_valid_before_utc <= now <= certificate.not_valid_after_utc:
            raise invalid("certificate_expired")
    return chain[0]
