"""Apple App Attest, verified offline: a device key attested once, then assertions.

At session start the app sends its App Attest key id, the attestation object
and the client data it hashed; the chain must end at the pinned Apple App
Attestation Root CA, and the key is stored (``AppAttestKey``). Later
requests carry an assertion signed by that key over fresh client data, with
a sign counter that must grow. Wire format: docs/dpop-and-app-attest.md.
Built on ``cryptography`` (certificates, ECDSA) and ``cbor2``; pyattest is
not on the package index this project installs from.

One idea per module: ``wire`` (base64, CBOR, sizes, the refusal),
``challenges`` (server challenges and the client data check),
``certificates`` (the chain up to the pinned root, the nonce extension),
``attestation`` (attestation objects), ``assertion`` (assertions and the
sign counter), ``refusals`` (the deny event), ``verifier`` (the
``app_attest`` verifier, registered at import) and ``models``.
"""

from protection.attestation.app_attest.assertion import verify_assertion
from protection.attestation.app_attest.attestation import (
    AAGUIDS,
    ATTESTATION_FORMAT,
    verify_attestation,
)
from protection.attestation.app_attest.certificates import NONCE_EXTENSION_OID, ROOT_CA_FILE
from protection.attestation.app_attest.challenges import (
    CHALLENGE_PURPOSE,
    app_attest_challenge_issue,
)
from protection.attestation.app_attest.models import AppAttestKey
from protection.attestation.app_attest.verifier import AppAttestVerifier, app_attest
from protection.attestation.app_attest.wire import (
    KEY_ID_BYTES,
    MAX_ASSERTION_BYTES,
    MAX_ATTESTATION_BYTES,
    MAX_CLIENT_DATA_BYTES,
    NAME,
    AttestedDevice,
)

__all__ = [
    "AAGUIDS",
    "ATTESTATION_FORMAT",
    "CHALLENGE_PURPOSE",
    "KEY_ID_BYTES",
    "MAX_ASSERTION_BYTES",
    "MAX_ATTESTATION_BYTES",
    "MAX_CLIENT_DATA_BYTES",
    "NAME",
    "NONCE_EXTENSION_OID",
    "ROOT_CA_FILE",
    "AppAttestKey",
    "AppAttestVerifier",
    "AttestedDevice",
    "app_attest",
    "app_attest_challenge_issue",
    "verify_assertion",
    "verify_attestation",
]
