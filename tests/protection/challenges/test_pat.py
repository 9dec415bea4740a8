"""Private Access Tokens, offline: RFC 9578's test vectors, issuer keys, challenges, headers."""

import hashlib
import json
import struct

import pytest
from cryptography.hazmat.primitives import serialization
from django.core import checks

from protection.base.exceptions import ProtectionError
from protection.challenges.checks import check_verifier_settings
from protection.challenges.pat import (
    PatRefused,
    pat_authorization_token,
    pat_challenge_build,
    pat_challenges_issue,
    pat_origin_info,
    pat_token_verify,
)
from protection.challenges.patissuers import (
    b64url_encode,
    pat_directory_parse,
    pat_issuer_load,
    pat_issuers,
)
from tests.support.pat import PatIssuerKey, pat_challenge_fields, pat_challenges_parse
from tests.support.pat_vectors import ISSUER_NAME, PUBLIC_KEY_HEX, VECTORS

VECTOR_ENTRY = f"{ISSUER_NAME}={b64url_encode(bytes.fromhex(PUBLIC_KEY_HEX))}"


@pytest.fixture(scope="module")
def issuer():
    return PatIssuerKey(name="issuer.example")


@pytest.fixture
def rfc_issuer(settings):
    settings.GATEHOUSE = {**settings.GATEHOUSE, "PAT_ISSUERS": [VECTOR_ENTRY]}


@pytest.mark.parametrize("number", range(1, len(VECTORS) + 1))
def test_rfc_9578_vectors_verify(rfc_issuer, number):
    challenge_hex, token_hex = VECTORS[number - 1]
    challenge, token = bytes.fromhex(challenge_hex), bytes.fromhex(token_hex)
    verified = pat_token_verify(b64url_encode(token))
    assert verified.issuer.name == ISSUER_NAME
    assert verified.issuer.key_id == hashlib.sha256(bytes.fromhex(PUBLIC_KEY_HEX)).digest()
    assert verified.challenge_digest == hashlib.sha256(challenge).digest()
    assert verified.nonce == token[2:34]


def test_rfc_9578_vector_challenges_are_what_the_builder_writes():
    # Vector 1: a 32-byte redemption context and one origin; vector 2: no context.
    for challenge_hex, _ in VECTORS[:2]:
        fields = pat_challenge_fields(bytes.fromhex(challenge_hex))
        rebuilt = pat_challenge_build(
            issuer_name=fields["issuer_name"],
            redemption_context=fields["redemption_context"],
            origin_info=fields["origin_info"],
        )
        assert rebuilt.hex() == challenge_hex


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (lambda raw: raw[:-1], "pat_malformed"),
        (lambda raw: struct.pack("!H", 1) + raw[2:], "pat_token_type"),
        (lambda raw: raw[:66] + bytes(32) + raw[98:], "pat_unknown_key"),
        (lambda raw: raw[:40] + bytes([raw[40] ^ 1]) + raw[41:], "pat_signature"),  # digest
        (lambda raw: raw[:-1] + bytes([raw[-1] ^ 1]), "pat_signature"),  # authenticator
    ],
    ids=["truncated", "voprf-type", "unknown-key-id", "other-challenge-digest", "bad-signature"],
)
def test_damaged_vector_tokens_are_refused_with_their_reason(rfc_issuer, damage, reason):
    raw = bytes.fromhex(VECTORS[0][1])
    with pytest.raises(PatRefused) as refused:
        pat_token_verify(b64url_encode(damage(raw)))
    assert refused.value.reason == reason


def test_garbage_is_malformed(rfc_issuer):
    for token in ("", "not base64!", "A" * 10, "%" * 472):
        with pytest.raises(PatRefused) as refused:
            pat_token_verify(token)
        assert refused.value.reason == "pat_malformed"


def test_tokens_signed_by_our_own_test_issuer_verify(settings, issuer):
    settings.GATEHOUSE = {**settings.GATEHOUSE, "PAT_ISSUERS": [issuer.entry]}
    token = issuer.token(b"any challenge")
    assert pat_token_verify(token).issuer.name == "issuer.example"
    forged = PatIssuerKey().token(b"any challenge", key_id=issuer.key_id)
    with pytest.raises(PatRefused):
        pat_token_verify(forged)


def test_the_issuer_key_must_be_an_rsassa_pss_spki_of_2048_bits(issuer):
    loaded = pat_issuer_load("Issuer.Example", issuer.token_key)
    assert loaded.name == "issuer.example" and loaded.key_id == issuer.key_id
    rsa_encryption_spki = issuer.private_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    with pytest.raises(ValueError, match="RSASSA-PSS"):
        pat_issuer_load("issuer.example", b64url_encode(rsa_encryption_spki))
    with pytest.raises(ValueError, match="server name"):
        pat_issuer_load("user@issuer.example", issuer.token_key)
    with pytest.raises(ValueError, match="base64url"):
        pat_issuer_load("issuer.example", "not/base64url")


def test_an_unpadded_token_key_loads_too(issuer):
    assert pat_issuer_load("issuer.example", issuer.token_key.rstrip("=")).key_id == issuer.key_id


@pytest.mark.parametrize(
    ("base", "origin"),
    [
        ("https://signup-api.example", "signup-api.example"),
        ("https://Signup-API.example:443", "signup-api.example"),
        ("https://signup-api.example:8443", "signup-api.example:8443"),
        ("http://127.0.0.1:8000", "127.0.0.1:8000"),
        ("http://localhost", "localhost:80"),
        ("", ""),
    ],
)
def test_origin_info_is_the_public_base_url_server_name(settings, base, origin):
    settings.GATEHOUSE = {**settings.GATEHOUSE, "PUBLIC_BASE_URL": base}
    assert pat_origin_info() == origin


def test_challenges_name_each_issuer_share_a_fresh_context_and_our_origin(settings, issuer):
    second = PatIssuerKey(name="pat-issuer.example:8443")
    rotated = PatIssuerKey(name="issuer.example")  # a second key of the first issuer
    settings.GATEHOUSE = {
        **settings.GATEHOUSE,
        "PAT_ISSUERS": [issuer.entry, second.entry, rotated.entry],
        "PUBLIC_BASE_URL": "https://signup-api.example",
    }
    header = pat_challenges_issue()
    challenges = pat_challenges_parse(header)
    assert [key for _, key in challenges] == [issuer.token_key, second.token_key]  # first keys
    fields = [pat_challenge_fields(challenge) for challenge, _ in challenges]
    assert [f["issuer_name"] for f in fields] == ["issuer.example", "pat-issuer.example:8443"]
    assert {f["token_type"] for f in fields} == {2}
    assert {f["origin_info"] for f in fields} == {"signup-api.example"}
    assert len(fields[0]["redemption_context"]) == 32
    assert fields[0]["redemption_context"] == fields[1]["redemption_context"]
    assert 'max-age="300"' in header
    again = pat_challenge_fields(pat_challenges_parse(pat_challenges_issue())[0][0])
    assert again["redemption_context"] != fields[0]["redemption_context"]


def test_no_issuer_or_no_origin_is_unavailable(settings, issuer):
    settings.GATEHOUSE = {**settings.GATEHOUSE, "PAT_ISSUERS": [], "PUBLIC_BASE_URL": "https://a.b"}
    with pytest.raises(ProtectionError) as error:
        pat_challenges_issue()
    assert error.value.code == "pat_unavailable"
    settings.GATEHOUSE = {**settings.GATEHOUSE, "PAT_ISSUERS": [issuer.entry],
                          "PUBLIC_BASE_URL": ""}  # fmt: skip
    with pytest.raises(ProtectionError):
        pat_challenges_issue()


@pytest.mark.parametrize(
    ("header", "token"),
    [
        (None, None),
        ("", None),
        ("Bearer abc", None),
        ('PrivateToken token="abc="', "abc="),
        ("PrivateToken token=abc", "abc"),
        ('privatetoken realm="x", token="abc"', "abc"),
        ('PrivateToken  token = "abc" , extra="ignored"', "abc"),
        ("PrivateToken", ""),
        ('PrivateToken challenge="abc"', ""),
        ("PrivateToken token=" + "a" * 2000, ""),
    ],
)
def test_authorization_header_parsing(header, token):
    assert pat_authorization_token(header) == token


def test_a_malformed_issuer_list_is_a_system_check_error_and_accepts_nothing(settings, issuer):
    settings.GATEHOUSE = {**settings.GATEHOUSE, "PAT_ISSUERS": [issuer.entry, "nonsense"],
                          "PUBLIC_BASE_URL": "https://a.example"}  # fmt: skip
    messages = check_verifier_settings(None)
    assert [(m.id, m.level) for m in messages] == [("protection.E140", checks.ERROR)]
    assert pat_issuers() == []
    settings.GATEHOUSE = {**settings.GATEHOUSE, "PAT_ISSUERS": [issuer.entry],
                          "PUBLIC_BASE_URL": ""}  # fmt: skip
    assert [m.id for m in check_verifier_settings(None)] == ["protection.W141"]
    assert [i.name for i in pat_issuers()] == ["issuer.example"]


def test_directory_parsing_keeps_type_2_keys_in_order(issuer):
    older = PatIssuerKey()
    directory = {
        "issuer-request-uri": "https://issuer.example/request",
        "token-keys": [
            {"token-type": 2, "token-key": issuer.token_key, "not-before": 1686913811},
            {"token-type": 1, "token-key": "AAAA"},
            {"token-type": 2, "token-key": older.token_key},
        ],
    }
    lines = pat_directory_parse(json.dumps(directory), issuer_name="issuer.example")
    assert lines == [f"issuer.example={issuer.token_key}", f"issuer.example={older.token_key}"]
    with pytest.raises(ValueError, match="type 2"):
        pat_directory_parse(json.dumps({"token-keys": []}), issuer_name="issuer.example")
