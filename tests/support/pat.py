"""The client and issuer sides of Private Access Tokens, for tests.

``PatIssuerKey`` is an issuer: a 2048-bit RSA key, published as RFC 9578
section 6.5 says (a DER SubjectPublicKeyInfo with the RSASSA-PSS OID,
base64url). It signs a token's input directly with RSASSA-PSS (SHA-384,
MGF1 SHA-384, 48-byte salt): the result is exactly what the blind RSA
protocol produces after finalization, and all the verifier ever sees.
``pat_challenges_parse`` reads the challenges of a ``WWW-Authenticate``
value the way a client does.
"""

import base64
import hashlib
import re
import secrets
import struct
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

# Everything of a 2048-bit RSASSA-PSS SubjectPublicKeyInfo (SHA-384, MGF1
# SHA-384, salt 48) before the RSAPublicKey bytes: the same for every such
# key (RFC 9578 section 6.5's example, and its test vector's pkS).
SPKI_PREFIX = bytes.fromhex(
    "30820152303d06092a864886f70d01010a3030a00d300b0609608648016503040202a11a3018"
    "06092a864886f70d010108300b0609608648016503040202a2030201300382010f00"
)
_CHALLENGE = re.compile(r'PrivateToken challenge="([^"]+)", token-key="([^"]+)"')


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class PatIssuerKey:
    """A Privacy Pass issuer (token type 0x0002) for tests."""

    name: str = "issuer.example"
    private_key: rsa.RSAPrivateKey = field(
        default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )

    @property
    def spki(self) -> bytes:
        pkcs1 = self.private_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.PKCS1
        )
        return SPKI_PREFIX + pkcs1

    @property
    def token_key(self) -> str:
        return b64url(self.spki)

    @property
    def key_id(self) -> bytes:
        return hashlib.sha256(self.spki).digest()

    @property
    def entry(self) -> str:
        """Its ``PAT_ISSUERS`` entry."""
        return f"{self.name}={self.token_key}"

    def sign(self, message: bytes) -> bytes:
        return self.private_key.sign(
            message,
            padding.PSS(mgf=padding.MGF1(hashes.SHA384()), salt_length=48),
            hashes.SHA384(),
        )

    def token(
        self,
        challenge: bytes,
        *,
        token_type: int = 2,
        nonce: bytes | None = None,
        key_id: bytes | None = None,
        challenge_digest: bytes | None = None,
    ) -> str:
        """A base64url Token answering ``challenge`` (fields overridable to forge)."""
        token_input = (
            struct.pack("!H", token_type)
            + (nonce or secrets.token_bytes(32))
            + (challenge_digest or hashlib.sha256(challenge).digest())
            + (key_id or self.key_id)
        )
        return b64url(token_input + self.sign(token_input))


def pat_challenges_parse(header: str) -> list[tuple[bytes, str]]:
    """The (TokenChallenge bytes, token-key) pairs of a WWW-Authenticate value."""
    return [(b64url_decode(challenge), key) for challenge, key in _CHALLENGE.findall(header)]


def pat_challenge_fields(challenge: bytes) -> dict[str, object]:
    """A TokenChallenge's fields, decoded as a client validates them."""
    (token_type, issuer_length) = struct.unpack("!HH", challenge[:4])
    offset = 4 + issuer_length
    issuer = challenge[4:offset].decode()
    context_length = challenge[offset]
    context = challenge[offset + 1 : offset + 1 + context_length]
    offset += 1 + context_length
    (origin_length,) = struct.unpack("!H", challenge[offset : offset + 2])
    origin = challenge[offset + 2 : offset + 2 + origin_length].decode()
    assert offset + 2 + origin_length == len(challenge), "trailing bytes"
    return {
        "token_type": token_type,
        "issuer_name": issuer,
        "redemption_context": context,
        "origin_info": origin,
    }
