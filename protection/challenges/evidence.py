"""What a client presents at session start, what ``challenge_verify`` accepted,
and which evidence a key (or a risk ladder) requires.

- ``ChallengeEvidence``: the body fields and the ``Authorization: PrivateToken``
  token, as one value.
- ``ChallengeOutcome``: the evidence that was shown and passed (``shown``:
  concrete names, ``pat`` included), for the verdict.
- ``evidence_required``: the key's floor plus what a caller adds, with the
  abstract ``captcha`` resolved to the key's own CAPTCHA.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from protection.keys.models import CAPTCHAS

# The evidence challenge_verify checks; the other verifications (app
# attestation, DPoP) are checked by their own packages.
CHALLENGE_VERIFICATIONS = ("pow", *CAPTCHAS, "pat")
CAPTCHA = "captcha"  # "the key's CAPTCHA", whichever it is


@dataclass(frozen=True)
class ChallengeEvidence:
    """What a client presented at session start (each only when it sent it)."""

    altcha: str = ""
    recaptcha_token: str = ""
    turnstile_token: str = ""
    hcaptcha_token: str = ""
    # The token of "Authorization: PrivateToken token=..."; None: no such header,
    # "": the header carries no readable token.
    private_token: str | None = None

    def captcha_token(self, provider: str) -> str:
        return str(getattr(self, f"{provider}_token", "") or "")


@dataclass(frozen=True)
class ChallengeOutcome:
    """What ``challenge_verify`` accepted.

    ``shown``: the evidence presented and verified (``pow``, ``recaptcha``,
    ``turnstile``, ``hcaptcha``, ``pat``), also a PAT the key did not
    require: positive evidence. ``pat_issuer``: the issuer of that token.
    ``observed``: the codes a key in observe mode was let through with.
    """

    shown: frozenset[str] = frozenset()
    pat_issuer: str | None = None
    observed: tuple[str, ...] = ()


def evidence_required(*, api_key: Any, add: Iterable[str] = ()) -> tuple[str, ...]:
    """The evidence ``challenge_verify`` checks for ``api_key``: its required
    verifications (the floor, never lowered) plus ``add``, in that order.

    ``captcha`` in ``add`` means the key's own CAPTCHA; ValueError when the
    key has none (the caller decides what replaces it) or for an unknown name.
    """
    names = list(api_key.required_verifications or ())
    for name in add:
        if name == CAPTCHA:
            name = getattr(api_key, "captcha", "") or ""
            if not name:
                raise ValueError(f"API key {api_key.public_id} has no CAPTCHA configured")
        if name not in CHALLENGE_VERIFICATIONS:
            raise ValueError(f"Unknown session evidence {name!r}")
        names.append(name)
    return tuple(dict.fromkeys(names))
