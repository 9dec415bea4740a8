"""Key format and hashing: generation, offline parsing, peppered HMAC."""

import hmac
import string

import pytest
from django.core.exceptions import ImproperlyConfigured

from protection.base import crypto
from protection.base.exceptions import ProtectionError
from protection.keys import api_key_verify


def _key(kind: str = "publishable") -> str:
    raw, _ = crypto.generate_raw_key(kind=kind, public_id=crypto.generate_public_id())
    return raw


def _with_checksum(body: str) -> str:
    return f"{body}_{crypto._checksum(body)}"


def test_generated_keys_have_the_documented_shape():
    pub, sec = _key("publishable"), _key("secret")
    assert pub.startswith("gh_pub_") and sec.startswith("gh_sec_")
    for raw in (pub, sec):
        assert len(raw) == crypto.RAW_KEY_LENGTH == 59
        _, _, public_id, secret, checksum = raw.split("_")
        assert len(public_id) == 12 and len(secret) == 32 and len(checksum) == 6
        assert set(public_id + secret + checksum) <= set(string.digits + string.ascii_letters)


def test_secret_has_at_least_128_bits_and_keys_do_not_repeat():
    assert crypto.SECRET_LENGTH * 5.95 >= 128  # log2(62) ≈ 5.95 bits per character
    secrets_seen = {crypto.parse_raw_key(_key()).secret for _ in range(2000)}
    assert len(secrets_seen) == 2000


def test_parse_round_trips():
    public_id = crypto.generate_public_id()
    raw, secret = crypto.generate_raw_key(kind="secret", public_id=public_id)
    assert crypto.parse_raw_key(raw) == crypto.ParsedKey("secret", public_id, secret)


def test_generate_refuses_unknown_kind_and_bad_public_id():
    with pytest.raises(ValueError):
        crypto.generate_raw_key(kind="admin", public_id=crypto.generate_public_id())
    with pytest.raises(ValueError):
        crypto.generate_raw_key(kind="secret", public_id="short")


VALID = _key()
_, _, VALID_ID, VALID_SECRET, VALID_CRC = VALID.split("_")


def _flip(text: str, index: int) -> str:
    swapped = "a" if text[index] != "a" else "b"
    return text[:index] + swapped + text[index + 1 :]


MALFORMED = {
    "empty": "",
    "none": None,
    "bytes": VALID.encode(),
    "whitespace around": f" {VALID} ",
    "trailing newline": VALID + "\n",
    "truncated": VALID[:-1],
    "extra char": VALID + "x",
    "wrong prefix": "gh_xxx" + VALID[6:],
    "github-like prefix": "ghp_pu" + VALID[6:],
    "uppercase prefix": "GH_PUB" + VALID[6:],
    "bad checksum": _flip(VALID, len(VALID) - 1),
    "tampered secret": _flip(VALID, 30),
    "tampered public id": _flip(VALID, 8),
    "kind swapped, checksum stale": "gh_sec" + VALID[6:] if VALID.startswith("gh_pub") else "",
    "non-ascii same length": VALID[:-1] + "é",
    "non-base62 in secret, valid checksum": _with_checksum(
        f"gh_pub_{VALID_ID}_{VALID_SECRET[:-1]}-"
    ),
    "short id long secret, valid checksum": _with_checksum(
        f"gh_pub_{VALID_ID[:-1]}_{VALID_SECRET}x"
    ),
    "dash separators": VALID.replace("_", "-"),
    "six parts same length": _with_checksum(f"gh_pub_{VALID_ID}_{VALID_SECRET[:-2]}_a")[:59],
    "sql": "gh_pub_' OR 1=1 --" + "x" * 41,
    "very long": "gh_pub_" + "a" * 10_000,
}


@pytest.mark.parametrize("raw", MALFORMED.values(), ids=MALFORMED.keys())
def test_parse_rejects_every_malformed_variant(raw):
    assert crypto.parse_raw_key(raw) is None


@pytest.mark.django_db
@pytest.mark.parametrize(
    "raw", [v for v in MALFORMED.values() if v], ids=[k for k, v in MALFORMED.items() if v]
)
def test_malformed_keys_never_reach_the_key_table(raw, django_assert_num_queries):
    with django_assert_num_queries(0):
        assert crypto.parse_raw_key(raw) is None
    # Through the service: the only statement is the audit event's INSERT.
    with django_assert_num_queries(1) as captured:
        with pytest.raises(ProtectionError) as excinfo:
            api_key_verify(raw_key=raw)
    assert excinfo.value.code == "api_key_invalid"
    sql = captured.captured_queries[0]["sql"]
    assert sql.startswith("INSERT") and "protection_securityevent" in sql
    assert "protection_apikey" not in sql.split("VALUES")[0]


def test_hash_is_keyed_hex_sha256_and_constant_time_compare(settings):
    digest = crypto.hash_secret(VALID_SECRET)
    assert len(digest) == 64 and int(digest, 16) >= 0
    other = "Y" if VALID_SECRET.endswith("Z") else "Z"  # the key is random: really change it
    assert digest != crypto.hash_secret(VALID_SECRET[:-1] + other)
    assert crypto.secret_matches(VALID_SECRET, digest)
    assert not crypto.secret_matches(VALID_SECRET, crypto.UNKNOWN_KEY_HASH)
    # Not a bare hash of the secret: the pepper is part of it.
    import hashlib

    assert digest != hashlib.sha256(VALID_SECRET.encode()).hexdigest()
    assert not hmac.compare_digest(
        digest, hmac.new(b"", VALID_SECRET.encode(), "sha256").hexdigest()
    )


def test_pepper_changes_every_hash(settings):
    before = crypto.hash_secret(VALID_SECRET)
    settings.GATEHOUSE = {**settings.GATEHOUSE, "API_KEY_PEPPER": "another pepper"}
    assert crypto.hash_secret(VALID_SECRET) != before


def test_missing_pepper_and_signing_key_is_a_configuration_error(settings):
    settings.GATEHOUSE = {**settings.GATEHOUSE, "API_KEY_PEPPER": "", "SIGNING_KEY": ""}
    with pytest.raises(ImproperlyConfigured):
        crypto.hash_secret(VALID_SECRET)


def test_keyed_digest_separates_purposes():
    assert crypto.keyed_digest("a@example.com", purpose="email") != crypto.keyed_digest(
        "a@example.com", purpose="phone"
    )
