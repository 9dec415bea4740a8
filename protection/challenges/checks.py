"""System checks of the session-start verifiers (registered by ``ProtectionConfig.ready``).

- protection.E140: a ``PAT_ISSUERS`` entry that is not ``issuer-name=token-key``
  with a 2048-bit RSASSA-PSS SubjectPublicKeyInfo key (no token of that
  issuer would ever verify; at run time a malformed list accepts none).
- protection.W141: ``PAT_ISSUERS`` is set but ``PUBLIC_BASE_URL`` is not: a
  TokenChallenge names gatehouse's origin, so keys that require ``pat`` are
  answered 503 ``pat_unavailable``.
- protection.E142: ``TURNSTILE_VERIFY_URL`` or ``HCAPTCHA_VERIFY_URL`` is not
  https (http only to loopback, for a local test double): the secret would
  travel in clear.
- protection.W143: a CAPTCHA with a site key but no secret, or the reverse:
  keys that require it are refused with 503 ``captcha_unavailable``.
"""

from typing import Any
from urllib.parse import urlsplit

from django.core import checks

from protection.challenges.pat import pat_origin_info
from protection.challenges.patissuers import pat_issuers_parse
from protection.conf import gatehouse_settings

LOOPBACK = ("127.0.0.1", "::1", "localhost")


@checks.register()
def check_verifier_settings(app_configs: Any, **kwargs: Any) -> list[checks.CheckMessage]:
    messages: list[checks.CheckMessage] = []
    entries = gatehouse_settings.PAT_ISSUERS or []
    if isinstance(entries, str):
        entries = [entries]
    try:
        pat_issuers_parse(entries)
    except ValueError as exc:
        messages.append(
            checks.Error(
                f"GATEHOUSE PAT_ISSUERS is malformed: {exc}.",
                hint="One issuer-name=token-key per entry (GATEHOUSE_PAT_ISSUERS, "
                "comma-separated), the token key as the issuer directory publishes it; "
                "manage.py pat_issuer_fetch URL prints the line.",
                id="protection.E140",
            )
        )
    if entries and not pat_origin_info():
        messages.append(
            checks.Warning(
                "GATEHOUSE PAT_ISSUERS is set but PUBLIC_BASE_URL is not: Private Access "
                "Token challenges cannot name this server's origin.",
                hint="Set GATEHOUSE_PUBLIC_BASE_URL to the scheme://host[:port] clients call.",
                id="protection.W141",
            )
        )
    for provider in ("TURNSTILE", "HCAPTCHA"):
        url = urlsplit(str(getattr(gatehouse_settings, f"{provider}_VERIFY_URL") or ""))
        if not (url.scheme == "https" or (url.scheme == "http" and url.hostname in LOOPBACK)):
            messages.append(
                checks.Error(
                    f"GATEHOUSE {provider}_VERIFY_URL must be an https URL.",
                    hint=f"Leave GATEHOUSE_{provider}_VERIFY_URL unset for the provider's own.",
                    id="protection.E142",
                )
            )
        site_key = getattr(gatehouse_settings, f"{provider}_SITE_KEY")
        secret = getattr(gatehouse_settings, f"{provider}_SECRET")
        if bool(site_key) != bool(secret):
            missing = "SECRET" if site_key else "SITE_KEY"
            messages.append(
                checks.Warning(
                    f"GATEHOUSE {provider}_{missing} is not set while its pair is: "
                    f"{provider.title()} cannot be verified.",
                    hint=f"Set GATEHOUSE_{provider}_SITE_KEY and GATEHOUSE_{provider}_SECRET "
                    "together.",
                    id="protection.W143",
                )
            )
    return messages
