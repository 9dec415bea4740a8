"""DPoP (RFC 9449): sender-constrained session tokens.

A client that holds a private key sends a ``DPoP`` proof (a JWS signed with
that key, its public half in the header) with each request. At session start
the key's RFC 7638 thumbprint (``jkt``) goes into the tokens as ``cnf.jkt``;
from then on every request must show ``Authorization: DPoP <access>`` plus a
fresh proof signed by the same key, so a stolen token is useless without it.

``proof``: one proof's checks and its replay claim; ``binding``: what each
session endpoint asks of the proof.
"""

from protection.dpop.binding import (
    dpop_refresh_verify,
    dpop_refuse,
    dpop_request_verify,
    dpop_session_start,
)
from protection.dpop.proof import (
    ASYMMETRIC_ALGORITHMS,
    DpopError,
    VerifiedProof,
    dpop_access_token_hash,
    dpop_algorithms,
    dpop_jti_claim,
    dpop_nonce_issue,
    dpop_proof_check,
    dpop_proof_verify,
    dpop_public_origin,
    dpop_thumbprint,
    dpop_www_authenticate,
)

__all__ = [
    "ASYMMETRIC_ALGORITHMS",
    "DpopError",
    "VerifiedProof",
    "dpop_access_token_hash",
    "dpop_algorithms",
    "dpop_jti_claim",
    "dpop_nonce_issue",
    "dpop_proof_check",
    "dpop_proof_verify",
    "dpop_public_origin",
    "dpop_refresh_verify",
    "dpop_refuse",
    "dpop_request_verify",
    "dpop_session_start",
    "dpop_thumbprint",
    "dpop_www_authenticate",
]
