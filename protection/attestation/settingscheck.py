"""What is wrong with the attestation settings, said by their owner.

``protection.checks`` turns these into system checks (protection.E006 for
Approov, protection.E007 for App Check); each problem is ``(message, hint)``.
"""

from urllib.parse import urlsplit

from protection.attestation.approov import (
    ASYMMETRIC_ALGORITHMS,
    MIN_SECRET_BYTES,
    approov_public_key,
    approov_secret_decode,
)
from protection.conf import gatehouse_settings

Problem = tuple[str, str]


def approov_settings_problems() -> list[Problem]:
    """Secrets that are not base64 of 32 bytes or more; a public key that does
    not load or whose algorithm is not an asymmetric one."""
    problems: list[Problem] = []
    secrets = {"APPROOV_SECRET": gatehouse_settings.APPROOV_SECRET}
    for name, value in (gatehouse_settings.APPROOV_SECRETS or {}).items():
        secrets[f"APPROOV_SECRETS[{name!r}]"] = value
    for label, value in secrets.items():
        if not value:
            continue
        try:
            approov_secret_decode(value)
        except ValueError as exc:
            problems.append(
                (
                    f"{label} is not a usable Approov secret ({exc}).",
                    f"Paste the account secret as Approov prints it: base64 or "
                    f"base64url of at least {MIN_SECRET_BYTES} bytes.",
                )
            )
    pem = gatehouse_settings.APPROOV_PUBLIC_KEY
    algorithm = gatehouse_settings.APPROOV_PUBLIC_KEY_ALGORITHM
    if pem or algorithm:
        problem = ""
        if algorithm not in ASYMMETRIC_ALGORITHMS:
            problem = f"APPROOV_PUBLIC_KEY_ALGORITHM {algorithm!r} is not asymmetric"
        else:
            try:
                approov_public_key(pem)
            except (ValueError, TypeError) as exc:
                problem = f"APPROOV_PUBLIC_KEY does not load as a PEM public key ({exc})"
        if problem:
            problems.append(
                (
                    f"{problem}.",
                    "Set both, e.g. ES256 and the PEM of the account's public key, or neither.",
                )
            )
    return problems


def app_check_settings_problems() -> list[Problem]:
    """A project number that is not digits; a JWKS URL that is not https
    (http only to loopback)."""
    problems: list[Problem] = []
    number = str(gatehouse_settings.APPCHECK_PROJECT_NUMBER or "")
    if number and not (number.isascii() and number.isdigit()):
        problems.append(
            (
                "APPCHECK_PROJECT_NUMBER is not a Firebase project number.",
                "Use the project number (digits, Firebase console > Project "
                "settings), not the project id.",
            )
        )
    url = urlsplit(str(gatehouse_settings.APPCHECK_JWKS_URL or ""))
    loopback = url.hostname in ("127.0.0.1", "::1", "localhost")
    if not (url.scheme == "https" or (url.scheme == "http" and loopback)):
        problems.append(
            (
                "APPCHECK_JWKS_URL must be an https URL.",
                "Leave GATEHOUSE_APPCHECK_JWKS_URL unset for Google's "
                "https://firebaseappcheck.googleapis.com/v1/jwks.",
            )
        )
    return problems
