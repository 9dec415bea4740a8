"""The ``BlockedClient`` model, the canonical spelling of each kind of value,
and ``BlockListVersion``: the one row every block change rewrites, so every
process learns of the change (``protection.blocks.ruleset``)."""

import datetime
import ipaddress
import re
import uuid

import idna
from django.conf import settings
from django.db import models
from django.utils import timezone

from protection.base import crypto
from protection.base.clientip import normalize_ip
from protection.netintel.origin import NETWORK_CLASSES

IPV4_MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")
_DOMAIN_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
ASN_MAX = 2**32 - 1  # 4-byte AS numbers (RFC 6793)
_ASN = re.compile(r"^(?:AS)?([0-9]{1,10})$", re.IGNORECASE)
_COUNTRY = re.compile(r"^[A-Z]{2}$")
# E.164 numbers have at most 15 digits and a country code that does not start
# with 0; a prefix is a number without (at least) its last four digits.
_PHONE_PREFIX = re.compile(r"^\+[1-9][0-9]{0,10}$")
_PHONE_SEPARATORS = str.maketrans("", "", " -.()\u00a0")


class BlockedClient(models.Model):
    class Kind(models.TextChoices):
        IP = "ip", "IP address"
        CIDR = "cidr", "network (CIDR)"
        API_KEY = "api_key", "API key (public id)"
        SESSION = "session", "session"
        DEVICE = "device", "device id"
        EMAIL_DOMAIN = "email_domain", "email domain"
        ASN = "asn", "autonomous system (AS number)"
        COUNTRY = "country", "country (ISO 3166 alpha-2)"
        NETWORK_CLASS = "network_class", "network class (tor, hosting, vpn, proxy)"
        PHONE_PREFIX = "phone_prefix", "phone number prefix (E.164)"

    kind = models.CharField(max_length=32, choices=Kind.choices)
    value = models.CharField(max_length=200)
    reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    expires_at = models.DateTimeField(null=True, blank=True, help_text="Empty = permanent.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by_rule = models.CharField(max_length=64, blank=True, db_index=True)
    lifted_at = models.DateTimeField(null=True, blank=True)
    lifted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    hit_count = models.PositiveBigIntegerField(default=0)
    last_hit_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "blocked client"
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["kind", "value"], name="block_kind_value")]

    def __str__(self) -> str:
        return f"{self.kind} {self.value}"

    def is_active(self, now: datetime.datetime | None = None) -> bool:
        now = now or timezone.now()
        return self.lifted_at is None and (self.expires_at is None or self.expires_at > now)

    @property
    def created_by_label(self) -> str:
        if self.created_by_rule:
            return f"rule {self.created_by_rule}"
        return str(self.created_by) if self.created_by_id else "system"


def _normalize_cidr(value: str) -> str:
    network = ipaddress.ip_network(value.strip(), strict=False)
    if isinstance(network, ipaddress.IPv6Network) and network.subnet_of(IPV4_MAPPED):
        # ::ffff:10.0.0.0/104 is 10.0.0.0/8: store one spelling for one network.
        first = ipaddress.IPv4Address(int(network.network_address) - int(IPV4_MAPPED[0]))
        network = ipaddress.IPv4Network(f"{first}/{network.prefixlen - 96}")
    return str(network)


def email_domain_ascii(value: str) -> str:
    """Return the lower-case ASCII (punycode) form of a domain, or of an address's domain.

    IDNA 2008 with UTS 46 mapping, non-transitional: the same rules the sign-up
    app normalises email domains with, so a block and an address always agree
    on how ``bücher.example`` (``xn--bcher-kva.example``) or ``faß.de`` is spelled.
    Raises ValueError for what is not a domain.
    """
    domain = value.strip().lstrip("@").rstrip(".")
    if "@" in domain:
        domain = domain.rsplit("@", 1)[1]
    try:
        return idna.encode(domain, uts46=True, transitional=False).decode("ascii").lower()
    except (idna.IDNAError, UnicodeError) as exc:
        raise ValueError("not a valid domain name") from exc


def _normalize_domain(value: str) -> str:
    domain = email_domain_ascii(value)
    labels = domain.split(".")
    if len(domain) > 253 or len(labels) < 2 or not all(_DOMAIN_LABEL.match(x) for x in labels):
        raise ValueError("not a valid domain name")
    return domain


def _normalize_asn(value: str) -> str:
    match = _ASN.match(value.replace(" ", ""))
    number = int(match.group(1)) if match else -1
    if not 1 <= number <= ASN_MAX:
        raise ValueError(f"not an AS number (1 to {ASN_MAX}, e.g. 64500 or AS64500)")
    return str(number)


def _normalize_country(value: str) -> str:
    code = value.upper()
    if not _COUNTRY.match(code):
        raise ValueError("not an ISO 3166 alpha-2 country code (two letters, e.g. FR)")
    return code


def _normalize_network_class(value: str) -> str:
    name = value.lower()
    if name not in NETWORK_CLASSES:
        raise ValueError(f"not a network class: choose from {', '.join(NETWORK_CLASSES)}")
    return name


def _normalize_phone_prefix(value: str) -> str:
    prefix = value.translate(_PHONE_SEPARATORS)
    if not _PHONE_PREFIX.match(prefix):
        raise ValueError(
            "not a phone number prefix: + and 1 to 11 digits, an E.164 number without "
            "its last four digits (e.g. +1201555)"
        )
    return prefix


def block_value_normalize(kind: str, value: str) -> str:
    """Return the canonical spelling of ``value`` for ``kind`` or raise ValueError."""
    value = (value or "").strip()
    if not value:
        raise ValueError("a value is required")
    if kind == BlockedClient.Kind.IP:
        normalized = normalize_ip(value)
        if normalized is None:
            raise ValueError("not an IP address")
        return normalized
    if kind == BlockedClient.Kind.CIDR:
        try:
            return _normalize_cidr(value)
        except ValueError as exc:
            raise ValueError("not a network in CIDR notation (e.g. 203.0.113.0/24)") from exc
    if kind == BlockedClient.Kind.API_KEY:
        parsed = crypto.parse_raw_key(value)
        if parsed is not None:  # a full key pasted by mistake: keep only its public id
            return parsed.public_id
        if len(value) != crypto.PUBLIC_ID_LENGTH or not all(c in crypto.ALPHABET for c in value):
            raise ValueError("not an API key public id")
        return value
    if kind == BlockedClient.Kind.SESSION:
        try:
            return str(uuid.UUID(value))
        except ValueError as exc:
            raise ValueError("not a session id (UUID)") from exc
    if kind == BlockedClient.Kind.DEVICE:
        if len(value) > 128 or not value.isprintable():
            raise ValueError("a device id is at most 128 printable characters")
        return value
    if kind == BlockedClient.Kind.EMAIL_DOMAIN:
        return _normalize_domain(value)
    if kind == BlockedClient.Kind.ASN:
        return _normalize_asn(value)
    if kind == BlockedClient.Kind.COUNTRY:
        return _normalize_country(value)
    if kind == BlockedClient.Kind.NETWORK_CLASS:
        return _normalize_network_class(value)
    if kind == BlockedClient.Kind.PHONE_PREFIX:
        return _normalize_phone_prefix(value)
    raise ValueError(f"unknown block kind {kind!r}")


class BlockListVersion(models.Model):
    """One row: the block list's version, rewritten in every transaction that
    changes a block, so a process without a shared cache (or while Redis is
    down) learns of the change with one indexed one-row query."""

    token = models.BigIntegerField(default=0)
    changed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "block list version"

    def __str__(self) -> str:
        return f"block list version {self.token}"
