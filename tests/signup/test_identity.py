"""Identity velocity helpers: the canonical mailbox and the phone prefix."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from signup.normalization import InvalidValue, email_canonical_mailbox, phone_prefix


@pytest.mark.parametrize(
    ("email", "mailbox"),
    [
        # the farm: one Gmail inbox behind every variant
        ("john+1@gmail.com", "john@gmail.com"),
        ("j.ohn+2@googlemail.com", "john@gmail.com"),
        ("J.O.H.N@GMail.com", "john@gmail.com"),
        ("john@googlemail.com.", "john@gmail.com"),
        # sub-addressing providers: +tag only, dots kept
        ("jane.doe+shop@outlook.com", "jane.doe@outlook.com"),
        ("Jane+x@Hotmail.com", "jane@hotmail.com"),
        ("jane+x@live.com", "jane@live.com"),
        ("jane+x@hotmail.co.uk", "jane@hotmail.co.uk"),
        ("jane+x@icloud.com", "jane@icloud.com"),
        ("jane+x@me.com", "jane@me.com"),
        ("jane+x@mac.com", "jane@mac.com"),
        ("jane+x@proton.me", "jane@proton.me"),
        ("jane+x@protonmail.com", "jane@protonmail.com"),
        ("jane+x@pm.me", "jane@pm.me"),
        ("jane+x@fastmail.com", "jane@fastmail.com"),
        # Yahoo: -keyword disposable addresses
        ("jane-shop@yahoo.com", "jane@yahoo.com"),
        ("jane+shop@yahoo.com", "jane+shop@yahoo.com"),
        # everyone else: lower-cased only (a + or a dot may be another person)
        ("John.Smith+Tag@Example.COM", "john.smith+tag@example.com"),
        ("j.ohn@gmail.example", "j.ohn@gmail.example"),
        ("jane-x@outlook.com", "jane-x@outlook.com"),
        # a local part that is all tag stays as it is
        ("+only@gmail.com", "+only@gmail.com"),
        ("-only@yahoo.com", "-only@yahoo.com"),
        # full-width characters fold like the stored address does (NFKC)
        ("ｊｏｈｎ+1@gmail.com", "john@gmail.com"),
    ],
)
def test_canonical_mailbox(email, mailbox):
    assert email_canonical_mailbox(email) == mailbox


LOCAL = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=12)
TAG = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789.-+", max_size=10)
DOMAINS = st.sampled_from(
    ["gmail.com", "googlemail.com", "outlook.com", "icloud.com", "proton.me", "example.com"]
)


@given(local=LOCAL, domain=DOMAINS)
def test_canonical_mailbox_is_idempotent(local, domain):
    once = email_canonical_mailbox(f"{local}@{domain}")
    assert email_canonical_mailbox(once) == once


@given(
    local=LOCAL, tag=TAG, dots=st.lists(st.integers(min_value=1), max_size=3), upper=st.booleans()
)
def test_every_gmail_variant_of_one_inbox_is_one_mailbox(local, tag, dots, upper):
    dotted = local
    for position in dots:  # dots anywhere inside the local part
        cut = position % (len(dotted) + 1)
        dotted = f"{dotted[:cut]}.{dotted[cut:]}"
    variant = f"{dotted}+{tag}@{'googlemail.com' if upper else 'gmail.com'}"
    variant = variant.upper() if upper else variant
    assert email_canonical_mailbox(variant) == f"{local}@gmail.com"


@given(local=LOCAL, tag=TAG)
def test_other_domains_keep_tags_and_dots(local, tag):
    address = f"{local}+{tag}@example.com"
    assert email_canonical_mailbox(address) == address


@pytest.mark.parametrize(
    ("e164", "prefix"),
    [
        ("+12015550123", "+1201555"),
        ("+447700900123", "+44770090"),
        ("+33612345678", "+3361234"),
        ("+6831234", "+683"),  # a short (Niue) number keeps its country code
    ],
)
def test_phone_prefix_drops_the_last_four_digits(e164, prefix):
    assert phone_prefix(e164) == prefix


@pytest.mark.parametrize(
    "value", ["12015550123", "+1201", "+12015550123x", "+1234567890123456", "+١٢٣٤٥٦٧٨"]
)
def test_phone_prefix_refuses_what_is_not_e164(value):
    with pytest.raises(InvalidValue) as error:
        phone_prefix(value)
    assert error.value.code == "invalid_phone"
