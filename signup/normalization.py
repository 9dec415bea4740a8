"""Canonical forms of what a person is identified by: email, phone, full name.

Two spellings of one address must become one stored value, or the unique
constraints in the database (and lookups) would see two people. Every
function here is pure and idempotent (normalising a normalised value returns
it unchanged) and raises ``InvalidValue`` with a stable code on bad input.

Email (syntax and IDNA by ``email-validator``, around this project's policy):
- trimmed, then Unicode NFKC (full-width ``ｊｏｈｎ`` becomes ``john``);
- trailing dots after the domain are dropped (``EXAMPLE.com.`` is the
  fully-qualified spelling of ``example.com``; email-validator refuses it);
- the domain is lower-cased the IDNA way (UTS #46 mapping, non-transitional),
  so ``Example.COM`` and ``xn--bcher-kva.example`` / ``BÜCHER.example`` each
  collapse to one form; it is stored in its Unicode form (what the person
  typed, not punycode);
- the local part is kept exactly as given after NFKC and trimming: RFC 5321
  makes it case-sensitive and only the receiving server knows its rules
  (dots and ``+tags`` for Gmail, case for some), so ``John@`` and ``john@``
  are two addresses. Folding them would merge two real people on some hosts;
- quoted local parts, IP-literal domains and special-use domains (``.local``,
  ``.test``, ``localhost``…) are refused (no consumer sign-up uses them, and
  they complicate uniqueness). No DNS lookup is made.

Phone: parsed with ``phonenumbers`` (Google's libphonenumber metadata), the
region for numbers without ``+`` from ``SIGNUP_PHONE_DEFAULT_REGION``, and
stored in E.164 (``+12015550123``); numbers that are not valid are refused.

Full name: trimmed, NFC, internal whitespace runs collapsed; control, format
(bidi overrides, zero-width), private-use and unassigned characters refused.

Identity velocity (counting, never storing or uniqueness): the canonical
mailbox of an address (``email_canonical_mailbox``: the inbox mail to it
lands in, for providers that document sub-addressing or ignore dots) and the
prefix of a phone number (``phone_prefix``: E.164 without its last four
digits, the block a number range is sold in).
"""

import re
import unicodedata

import email_validator
import phonenumbers

from signup.conf import signup_settings

EMAIL_MAX_LENGTH = 254  # RFC 5321 path limit, in octets
LOCAL_PART_MAX_LENGTH = 64  # octets
FULL_NAME_COLUMN_LENGTH = 500  # SIGNUP_FULL_NAME_MAX_LENGTH is capped at the column size
_REFUSED_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}
_WHITESPACE_RUN = re.compile(r"\s+")
# Zero-width (non-)joiners are format characters that spell names correctly in
# Persian, Hindi, Sinhala...; every other format character (bidi overrides,
# BOM, invisible separators) is refused.
_NAME_JOINERS = {"\u200c", "\u200d"}


class InvalidValue(ValueError):
    """A value that cannot be normalised; ``code`` is stable for clients."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        self.message = message
        super().__init__(message)


def _has_refused_characters(value: str, allowed: set[str] | frozenset[str] = frozenset()) -> bool:
    return any(
        unicodedata.category(char) in _REFUSED_CATEGORIES and char not in allowed for char in value
    )


def _email_validated(address: str) -> email_validator.ValidatedEmail:
    """Syntax and IDNA of ``address`` (already NFKC, no trailing dot), or ``InvalidValue``."""
    try:
        return email_validator.validate_email(
            address,
            check_deliverability=False,  # no DNS on a request path
            allow_quoted_local=False,
            allow_domain_literal=False,
            allow_display_name=False,
        )
    except email_validator.EmailNotValidError as exc:
        # Its messages name the part ("... after the @-sign ..."); ours stay stable.
        reason = str(exc)
        if "after the @" in reason:
            message = "The email domain is not valid."
        elif "before the @" in reason:
            message = "The part before @ is not valid."
        else:
            message = "Enter a valid email address."
        raise InvalidValue("invalid_email", message) from exc


def email_domain_normalize(domain: str) -> str:
    """Return the canonical (lower-case Unicode) form of an email domain."""
    domain = unicodedata.normalize("NFKC", domain.strip()).rstrip(".")
    if not domain or "@" in domain:
        raise InvalidValue("invalid_email", "The email domain is not valid.")
    return _email_validated(f"postmaster@{domain}").domain


def email_normalize(raw: str) -> str:
    """Return the canonical form of an email address or raise ``InvalidValue``."""
    value = unicodedata.normalize("NFKC", raw).strip()
    if not value or _has_refused_characters(value) or any(c.isspace() for c in value):
        raise InvalidValue("invalid_email", "Enter a valid email address.")
    local, at, domain = value.rpartition("@")
    if not at or not local:
        raise InvalidValue("invalid_email", "Enter a valid email address.")
    if len(local.encode()) > LOCAL_PART_MAX_LENGTH:
        raise InvalidValue("invalid_email", "The part before @ is not valid.")
    validated = _email_validated(f"{local}@{domain.rstrip('.')}")
    # NFKC output is already NFC, so email-validator's local part is ours unchanged.
    address = f"{validated.local_part}@{validated.domain}"
    if len(address.encode()) > EMAIL_MAX_LENGTH:
        raise InvalidValue("invalid_email", "The email address is too long.")
    return address


def email_domain(email: str) -> str:
    """Return the domain of a normalised address."""
    return email.rpartition("@")[2]


def phone_normalize(raw: str, *, region: str | None = None) -> str:
    """Return ``raw`` in E.164 or raise ``InvalidValue``.

    ``region`` (ISO 3166 alpha-2) applies to numbers written without ``+``;
    default ``SIGNUP_PHONE_DEFAULT_REGION``.
    """
    value = unicodedata.normalize("NFKC", raw).strip()
    if not value or len(value) > 64 or _has_refused_characters(value):
        raise InvalidValue("invalid_phone", "Enter a valid phone number.")
    region = region or signup_settings.SIGNUP_PHONE_DEFAULT_REGION
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidValue("invalid_phone", "Enter a valid phone number.") from exc
    if number.extension or not phonenumbers.is_valid_number(number):
        raise InvalidValue("invalid_phone", "Enter a valid phone number.")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def full_name_normalize(raw: str) -> str:
    """Return a trimmed, NFC, single-spaced full name or raise ``InvalidValue``."""
    value = _WHITESPACE_RUN.sub(" ", unicodedata.normalize("NFC", raw)).strip()
    if not value:
        raise InvalidValue("invalid_full_name", "Enter a full name.")
    if _has_refused_characters(raw, _NAME_JOINERS):
        raise InvalidValue(
            "invalid_full_name", "The full name contains control or invisible characters."
        )
    limit = min(int(signup_settings.SIGNUP_FULL_NAME_MAX_LENGTH), FULL_NAME_COLUMN_LENGTH)
    if len(value) > limit:
        raise InvalidValue(
            "invalid_full_name", f"The full name must not exceed {limit} characters."
        )
    return value


# Providers whose documented sub-addressing sends local+tag@ to local@ (and,
# for Gmail, ignores dots in the local part). Only these: elsewhere "+" and "."
# may be part of a distinct mailbox, and merging two people's budgets would
# let one exhaust the other's.
GMAIL_DOMAINS = frozenset({"gmail.com", "googlemail.com"})
PLUS_TAG_DOMAINS = frozenset(
    {
        # Microsoft consumer mail
        "outlook.com",
        "hotmail.com",
        "live.com",
        "msn.com",
        "hotmail.co.uk",
        "hotmail.fr",
        "hotmail.de",
        "hotmail.it",
        "hotmail.es",
        "live.co.uk",
        "live.fr",
        "live.de",
        "live.it",
        "live.nl",
        "outlook.fr",
        "outlook.de",
        "outlook.es",
        "outlook.it",
        # Apple iCloud
        "icloud.com",
        "me.com",
        "mac.com",
        # Proton
        "proton.me",
        "protonmail.com",
        "protonmail.ch",
        "pm.me",
        # Fastmail
        "fastmail.com",
        "fastmail.fm",
    }
)
# Yahoo's disposable addresses are base-keyword@ (Yahoo ids have no hyphen).
DASH_TAG_DOMAINS = frozenset(
    {"yahoo.com", "yahoo.co.uk", "yahoo.fr", "yahoo.de", "yahoo.it", "yahoo.es", "ymail.com"}
)


def email_canonical_mailbox(email: str) -> str:
    """The mailbox ``email`` delivers to, for counting sign-ups per inbox.

    Lower-cased; gmail.com and googlemail.com: dots and ``+tag`` removed,
    googlemail folded into gmail (``J.ohn+2@googlemail.com`` ->
    ``john@gmail.com``); ``+tag`` removed for Outlook/Hotmail/Live, iCloud,
    Proton and Fastmail; ``-tag`` for Yahoo. Other domains: lower-cased only.
    Never stored and never used for uniqueness: the stored address stays as
    typed (``email_normalize``). Pure; idempotent.
    """
    local, at, domain = unicodedata.normalize("NFKC", email).strip().lower().rpartition("@")
    if not at:
        return domain  # not an address: counted as given
    domain = domain.rstrip(".")
    # "or local": a local part that is all tag ("+x@") stays as it is.
    if domain in GMAIL_DOMAINS:
        domain = "gmail.com"
        local = local.split("+", 1)[0].replace(".", "") or local
    elif domain in PLUS_TAG_DOMAINS:
        local = local.split("+", 1)[0] or local
    elif domain in DASH_TAG_DOMAINS:
        local = local.split("-", 1)[0] or local
    return f"{local}@{domain}"


def phone_prefix(e164: str) -> str:
    """``e164`` without its last four digits (``+12015550123`` -> ``+1201555``).

    The unit SMS-pumping budgets and ``phone_prefix`` blocks count. Raises
    ``InvalidValue`` for what is not an E.164 number (``+`` and 5 to 15 digits).
    """
    value = e164.strip()
    digits = value[1:]
    if not (value.startswith("+") and 5 <= len(digits) <= 15 and digits.isascii()):
        raise InvalidValue("invalid_phone", "Enter a valid phone number.")
    if not digits.isdigit():
        raise InvalidValue("invalid_phone", "Enter a valid phone number.")
    return value[:-4]
