"""The ``ApiKey`` model, its statuses and the validation of its settings.

Scopes, origins and required verifications are validated and normalised
here, once, so the admin form, the commands and the services agree.

Longer than ~300 lines for that reason: every per-key setting's
validator sits next to the model field it guards.
"""

import datetime
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from protection.conf import gatehouse_settings
from protection.core.ratelimit.rates import validate_rate_limit_overrides
from protection.keys.ladder import validate_challenge_ladder
from protection.keys.network_policy import validate_network_policy

SCOPES = ("session", "lookup", "create")
# pow, the CAPTCHAs and pat (Private Access Tokens): protection.challenges;
# approov, app_check, app_attest: protection.attestation (app attestation);
# dpop: protection.dpop (key-bound tokens).
VERIFICATIONS = (
    "pow",
    "recaptcha",
    "turnstile",
    "hcaptcha",
    "approov",
    "app_check",
    "app_attest",
    "dpop",
    "pat",
)
# The CAPTCHA providers; a key uses one (ApiKey.captcha).
CAPTCHAS = ("recaptcha", "turnstile", "hcaptcha")
# The verifications attest_every_request applies to (protection.attestation).
ATTESTATION_VERIFICATIONS = ("approov", "app_check", "app_attest")
# What attestation_overrides may hold: per-key additions to the GATEHOUSE
# attestation settings. Secrets never: a key names one of APPROOV_SECRETS.
ATTESTATION_OVERRIDES = ("app_check_app_ids", "app_check_project_number", "approov_secret")
NO_VERIFICATION = "none"
_DEFAULT_PORTS = {"http": 80, "https": 443}


class ApiKeyStatus(models.TextChoices):
    ACTIVE = "active", "active"
    GRACE = "grace", "in grace"
    EXPIRED = "expired", "expired"
    REVOKED = "revoked", "revoked"


def _split(values: Iterable[str] | str) -> list[str]:
    if isinstance(values, str):
        values = values.split(",")
    return [value.strip() for value in values if value and value.strip()]


def _dedupe(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(values))


def clean_scopes(values: Iterable[str] | str) -> list[str]:
    """Return the scopes as a list; ``ValidationError`` naming any unknown one."""
    scopes = _dedupe(value.lower() for value in _split(values))
    unknown = [scope for scope in scopes if scope not in SCOPES]
    if unknown:
        raise ValidationError(
            f"Unknown scope(s): {', '.join(unknown)}. Choose from: {', '.join(SCOPES)}.",
            code="invalid_scope",
        )
    return scopes


def clean_verifications(values: Iterable[str] | str) -> list[str]:
    """Return the required verifications; ``none`` alone means an empty list."""
    names = _dedupe(value.lower() for value in _split(values))
    if names == [NO_VERIFICATION]:
        return []
    unknown = [name for name in names if name not in VERIFICATIONS]
    if unknown:
        raise ValidationError(
            f"Unknown verification(s): {', '.join(unknown)}. Choose from: "
            f"{', '.join(VERIFICATIONS)}, or {NO_VERIFICATION} alone.",
            code="invalid_verification",
        )
    return names


def clean_captcha(value: str | None, verifications: Iterable[str]) -> str:
    """Return the key's CAPTCHA provider ("" for none), agreeing with its requirements.

    A key uses one CAPTCHA: requiring one names it (a blank ``value`` becomes
    that provider); requiring two, or one that is not ``value``, is a
    ``ValidationError``.
    """
    chosen = (value or "").strip().lower()
    if chosen and chosen not in CAPTCHAS:
        raise ValidationError(
            f"Unknown CAPTCHA {chosen!r}. Choose from: {', '.join(CAPTCHAS)}.",
            code="invalid_captcha",
        )
    required = [name for name in dict.fromkeys(verifications) if name in CAPTCHAS]
    if len(required) > 1:
        raise ValidationError(
            f"A key uses one CAPTCHA, this one requires {' and '.join(required)}.",
            code="invalid_captcha",
        )
    if required:
        if chosen and chosen != required[0]:
            raise ValidationError(
                f"The key requires {required[0]} but its CAPTCHA is {chosen}.",
                code="invalid_captcha",
            )
        return required[0]
    return chosen


CAPTCHA_ACTION_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,32}$")  # Turnstile's own limit


def clean_captcha_action(value: str) -> str:
    """Return the action a key's Turnstile widget is rendered with, or ``ValidationError``."""
    action = (value or "").strip()
    if not CAPTCHA_ACTION_PATTERN.fullmatch(action):
        raise ValidationError(
            "A CAPTCHA action is 1-32 letters, digits, _ or -, e.g. signup.",
            code="invalid_captcha_action",
        )
    return action


def verifications_observed(api_key: Any) -> bool:
    """Whether ``api_key``'s evidence requirement is in observe mode (dry run)."""
    return bool(
        getattr(api_key, "verifications_dry_run", False) or gatehouse_settings.VERIFICATIONS_DRY_RUN
    )


def clean_attest_every_request(value: bool, verifications: Iterable[str]) -> bool:
    """Return ``value``; ``ValidationError`` if it is set on a key without attestation."""
    if value and not set(verifications) & set(ATTESTATION_VERIFICATIONS):
        raise ValidationError(
            "Attesting every request needs an attestation verification: "
            f"require one of {', '.join(ATTESTATION_VERIFICATIONS)}.",
            code="invalid_attest_every_request",
        )
    return bool(value)


def validate_attestation_overrides(value: Any) -> None:
    """Raise ``ValidationError`` unless ``value`` is a valid overrides object:
    ``{"app_check_app_ids": [str, ...], "app_check_project_number": "123",
    "approov_secret": "<name in GATEHOUSE APPROOV_SECRETS>"}``, each optional."""
    if not isinstance(value, dict):
        # Not code="invalid": a ModelForm would replace the message with its JSON
        # field's own "Enter a valid JSON." for that code.
        raise ValidationError(
            "Attestation overrides must be a JSON object.", code="invalid_attestation_overrides"
        )
    unknown = sorted(set(value) - set(ATTESTATION_OVERRIDES))
    if unknown:
        raise ValidationError(
            f"Unknown attestation override(s): {', '.join(unknown)}. Choose from: "
            f"{', '.join(ATTESTATION_OVERRIDES)}.",
            code="invalid_attestation_overrides",
        )
    app_ids = value.get("app_check_app_ids", [])
    if not isinstance(app_ids, list) or not all(
        isinstance(app_id, str) and app_id.strip() and len(app_id) <= 200 for app_id in app_ids
    ):
        raise ValidationError(
            "app_check_app_ids must be a list of Firebase app ids, e.g. "
            '["1:1234567890:android:0a1b2c3d"].',
            code="invalid_attestation_overrides",
        )
    number = value.get("app_check_project_number", "")
    if not isinstance(number, str) or (number and not (number.isascii() and number.isdigit())):
        raise ValidationError(
            "app_check_project_number must be the Firebase project number, digits only.",
            code="invalid_attestation_overrides",
        )
    secret_name = value.get("approov_secret", "")
    if not isinstance(secret_name, str) or len(secret_name) > 64:
        raise ValidationError(
            "approov_secret must name a secret of GATEHOUSE APPROOV_SECRETS "
            "(GATEHOUSE_APPROOV_SECRET_<NAME>), not hold one.",
            code="invalid_attestation_overrides",
        )


def normalize_origin(value: str) -> str:
    """Return ``scheme://host[:port]`` as browsers serialise it, or raise ValidationError.

    Origins are compared as exact strings afterwards, so look-alike hosts,
    other schemes, paths and ``null`` can never match.
    """
    text = value.strip()
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise ValidationError(f"Invalid origin {value!r}.", code="invalid_origin") from exc
    if (
        parts.scheme not in _DEFAULT_PORTS
        or not parts.hostname
        or parts.username is not None
        or parts.password is not None
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
        or "*" in text
        or text.endswith("/")
    ):
        raise ValidationError(
            f"Invalid origin {value!r}: use scheme://host[:port], e.g. https://app.example.",
            code="invalid_origin",
        )
    host = parts.hostname.lower()
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    if port is None or port == _DEFAULT_PORTS[parts.scheme]:
        return f"{parts.scheme}://{host}"
    return f"{parts.scheme}://{host}:{port}"


def clean_origins(values: Iterable[str] | str) -> list[str]:
    """Return the normalised allowed origins; ``ValidationError`` for any bad one."""
    return _dedupe(normalize_origin(value) for value in _split(values))


class ApiKeyQuerySet(models.QuerySet):
    def with_status(self, status: str, *, now: datetime.datetime | None = None) -> "ApiKeyQuerySet":
        """Keys whose ``api_key_status`` at ``now`` is ``status``."""
        now = now or timezone.now()
        live = Q(revoked_at__isnull=True)
        unexpired = Q(expires_at__isnull=True) | Q(expires_at__gt=now)
        conditions = {
            ApiKeyStatus.ACTIVE: live & unexpired & Q(rotated_at__isnull=True),
            ApiKeyStatus.GRACE: live & unexpired & Q(rotated_at__isnull=False),
            ApiKeyStatus.EXPIRED: live & Q(expires_at__lte=now),
            ApiKeyStatus.REVOKED: Q(revoked_at__isnull=False),
        }
        return self.filter(conditions[ApiKeyStatus(status)])


class ApiKey(models.Model):
    class Kind(models.TextChoices):
        PUBLISHABLE = "publishable", "publishable (browsers and mobile apps)"
        SECRET = "secret", "secret (servers)"

    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.PUBLISHABLE)
    public_id = models.CharField(max_length=16, unique=True, editable=False)
    secret_hash = models.CharField(max_length=64, editable=False)
    scopes = models.JSONField(default=list, blank=True)
    allowed_origins = models.JSONField(default=list, blank=True)
    required_verifications = models.JSONField(default=list, blank=True)
    rate_limit_overrides = models.JSONField(
        default=dict, blank=True, validators=[validate_rate_limit_overrides]
    )
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_reason = models.CharField(max_length=200, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    replaces = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="successors"
    )
    # Set on the old key when a successor is issued: "in grace" until expires_at.
    rotated_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    # reCAPTCHA policy, for keys whose required_verifications include it
    # (protection.challenges.recaptcha).
    recaptcha_version = models.CharField(
        max_length=2, choices=[("v2", "v2 (checkbox)"), ("v3", "v3 (score)")], default="v3"
    )
    recaptcha_action = models.CharField(
        max_length=64, default="session", blank=True, help_text="v3: the expected action."
    )
    recaptcha_min_score = models.FloatField(
        default=0.5,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text="v3: lowest score accepted, 0.0 (bot) to 1.0 (human).",
    )

    # The CAPTCHA this key's clients solve (protection.challenges): the one its
    # required verifications name, or the one a risk ladder may ask for.
    # Blank: the key has no CAPTCHA.
    captcha = models.CharField(
        max_length=16,
        blank=True,
        default="",
        choices=[("", "none"), *((name, name) for name in CAPTCHAS)],
        help_text="The CAPTCHA this key's clients solve when one is asked for.",
    )
    captcha_action = models.CharField(
        max_length=32,
        default="signup",
        validators=[RegexValidator(CAPTCHA_ACTION_PATTERN, "1-32 letters, digits, _ or -.")],
        help_text="Turnstile: the action the widget is rendered with, checked on every token.",
    )

    # App attestation (protection.attestation), for keys whose required
    # verifications name approov, app_check or app_attest.
    attest_every_request = models.BooleanField(
        default=False,
        help_text="Also require the attestation evidence on every lookup and create "
        "(keys of mobile apps), not only when a session is issued.",
    )
    attestation_overrides = models.JSONField(
        default=dict,
        blank=True,
        validators=[validate_attestation_overrides],
        help_text='Per-key additions, e.g. {"app_check_app_ids": ["1:123:ios:abc"], '
        '"approov_secret": "shop"} (a name from GATEHOUSE_APPROOV_SECRET_<NAME>).',
    )

    # Observe mode for the evidence this key requires: a failed proof of
    # work, CAPTCHA or attestation is recorded (an alert with
    # details.dry_run) and the session is issued anyway. For rolling a new
    # requirement out safely; GATEHOUSE VERIFICATIONS_DRY_RUN does it for all keys.
    verifications_dry_run = models.BooleanField(
        default=False,
        verbose_name="evidence in observe mode (dry run)",
        help_text="Record failed evidence without refusing: roll a new requirement out safely.",
    )

    # Network policy (protection.keys.network_policy): class -> action, over
    # the global NETWORK_POLICY class by class.
    network_policy = models.JSONField(
        default=dict,
        blank=True,
        validators=[validate_network_policy],
        help_text="Per network class: allow, harder, require:<evidence> or deny, e.g. "
        '{"tor": "deny", "hosting": "harder"}. A class not named here follows NETWORK_POLICY.',
    )

    # The challenge ladder (protection.keys.ladder): risk tier -> evidence
    # asked on top of required_verifications, over CHALLENGE_LADDER tier by tier.
    challenge_ladder = models.JSONField(
        default=dict,
        blank=True,
        validators=[validate_challenge_ladder],
        help_text="Per risk tier: evidence asked on top of the required verifications, e.g. "
        '{"high": ["captcha", "pow_hard"], "critical": "deny"}; {"dry_run": true} to only '
        "record what it would ask. A tier not named here follows CHALLENGE_LADDER.",
    )

    objects = ApiKeyQuerySet.as_manager()

    class Meta:
        verbose_name = "API key"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.public_id})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        # Revocation is final: a revoked row is never written again, even from a
        # stale instance loaded before the revocation (one query; saves are rare).
        if not self._state.adding and (
            getattr(self, "_loaded_revoked", False)
            or ApiKey.objects.filter(pk=self.pk, revoked_at__isnull=False).exists()
        ):
            raise ValueError("A revoked API key is read-only: revocation cannot be undone")
        super().save(*args, **kwargs)
        self._loaded_revoked = self.revoked_at is not None

    @classmethod
    def from_db(cls, db: Any, field_names: Any, values: Any) -> "ApiKey":
        instance = super().from_db(db, field_names, values)
        # Remembered so save() can refuse to touch a key that was loaded revoked.
        instance._loaded_revoked = instance.__dict__.get("revoked_at") is not None
        return instance

    def is_active(self, now: datetime.datetime | None = None) -> bool:
        """True while the key authenticates (active or in grace)."""
        return api_key_status(self, now) in (ApiKeyStatus.ACTIVE, ApiKeyStatus.GRACE)


def api_key_status(api_key: ApiKey, now: datetime.datetime | None = None) -> ApiKeyStatus:
    """Return active, grace (rotated, old key still valid), expired or revoked."""
    now = now or timezone.now()
    if api_key.revoked_at is not None:
        return ApiKeyStatus.REVOKED
    if api_key.expires_at is not None and api_key.expires_at <= now:
        return ApiKeyStatus.EXPIRED
    if api_key.rotated_at is not None:
        return ApiKeyStatus.GRACE
    return ApiKeyStatus.ACTIVE
