"""Two spellings of one address are one canonical value; bad values are refused."""

import pytest

from signup.normalization import (
    InvalidValue,
    email_normalize,
    full_name_normalize,
    phone_normalize,
)


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("ada@example.com", "ada@example.com"),
        ("  ada@example.com\t", "ada@example.com"),
        ("ada@EXAMPLE.COM", "ada@example.com"),
        ("ada@example.com.", "ada@example.com"),
        ("ａｄａ＠ｅｘａｍｐｌｅ．ｃｏｍ", "ada@example.com"),  # full-width, NFKC
        ("ada@BÜCHER.example", "ada@bücher.example"),
        ("ada@xn--bcher-kva.example", "ada@bücher.example"),  # punycode = Unicode spelling
        ("ada@bu\u0308cher.example", "ada@bücher.example"),  # decomposed ü
        ("ada@faß.de", "ada@faß.de"),  # IDNA 2008: ß is not folded to ss
        ("Ada.Lovelace+news@Example.org", "Ada.Lovelace+news@example.org"),  # local part kept
        ("ü@example.com", "ü@example.com"),
    ],
)
def test_email_canonical_forms(raw, canonical):
    assert email_normalize(raw) == canonical
    assert email_normalize(canonical) == canonical  # idempotent


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("ada..x@example.com", "Enter a valid email address."),
        ("ada@exa_mple.com", "The email domain is not valid."),
        ("ada@example", "The email domain is not valid."),
    ],
)
def test_refusals_keep_the_projects_own_messages(raw, message):
    with pytest.raises(InvalidValue) as excinfo:
        email_normalize(raw)
    assert excinfo.value.message == message


def test_a_trailing_dot_on_the_domain_is_the_same_address():
    assert email_normalize("ada@Example.COM.") == email_normalize("ada@example.com")


def test_local_part_case_is_kept_so_two_cases_are_two_addresses():
    assert email_normalize("Ada@example.com") != email_normalize("ada@example.com")


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "ada",
        "@example.com",
        "ada@",
        "ada@example",
        "ada@@example.com",
        "ada lovelace@example.com",
        "ada..x@example.com",
        ".ada@example.com",
        '"ada"@example.com',
        "ada@[192.0.2.1]",
        "ada@-example.com",
        "ada@exa_mple.com",
        "ada@example.123",
        "ada\u202e@example.com",
        "ada\x00@example.com",
        "a" * 65 + "@example.com",
        "ada@" + "a" * 250 + ".com",
        "ada@printer.local",  # special-use names (email-validator's list)
        "ada@localhost",
        "ada@shop.test",
        "ada@" + "a" * 64 + ".com",  # a label over 63 octets
        "Ada <ada@example.com>",  # a display name is not an address
    ],
)
def test_invalid_emails_are_refused(raw):
    with pytest.raises(InvalidValue) as excinfo:
        email_normalize(raw)
    assert excinfo.value.code == "invalid_email"


@pytest.mark.parametrize(
    "raw",
    ["(201) 555-0123", "201-555-0123", "+1 201 555 0123", "+12015550123", "２０１５５５０１２３"],
)
def test_phone_spellings_become_e164(raw):
    assert phone_normalize(raw) == "+12015550123"


def test_phone_region_is_configurable(signup_settings):
    signup_settings(SIGNUP_PHONE_DEFAULT_REGION="GB")
    assert phone_normalize("020 7946 0958") == "+442079460958"
    assert phone_normalize("+1 201 555 0123") == "+12015550123"


def test_phone_region_argument_wins():
    assert phone_normalize("030 901820", region="DE") == "+4930901820"


@pytest.mark.parametrize("raw", ["", "555", "abc", "+999 123", "+1 201 555 0123 ext. 7", "1" * 70])
def test_invalid_phones_are_refused(raw):
    with pytest.raises(InvalidValue) as excinfo:
        phone_normalize(raw)
    assert excinfo.value.code == "invalid_phone"


def test_full_name_is_trimmed_and_single_spaced():
    assert full_name_normalize("  Ada   Lovelace ") == "Ada Lovelace"


def test_full_name_keeps_joiners_needed_by_some_scripts():
    assert full_name_normalize("می\u200cخواهم") == "می\u200cخواهم"


@pytest.mark.parametrize(
    "raw",
    ["", "   ", "Ada\nLovelace", "Ada\tLovelace", "Ada\x07", "Ada\u202eecalevol", "\ufeffAda"],
)
def test_full_name_without_content_or_with_control_characters_is_refused(raw):
    with pytest.raises(InvalidValue) as excinfo:
        full_name_normalize(raw)
    assert excinfo.value.code == "invalid_full_name"


def test_full_name_length_limit_is_configurable(signup_settings):
    assert full_name_normalize("a" * 200)
    with pytest.raises(InvalidValue):
        full_name_normalize("a" * 201)
    signup_settings(SIGNUP_FULL_NAME_MAX_LENGTH=10)
    with pytest.raises(InvalidValue):
        full_name_normalize("a" * 11)
