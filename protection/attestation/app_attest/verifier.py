"""``app_attest`` behind the one attestation interface (``attestation_verify``).

A session starts with an attestation (or, from an app that attested
before, an assertion); later requests of keys that attest every request
send an assertion. The headers are the wire format's
(docs/dpop-and-app-attest.md); the request's method and path come as the
evidence entries ``:method`` and ``:path`` (the gate adds them), so an
assertion is accepted on the request it was made for only. Refusals record
their own event and raise.
"""

import datetime
from typing import Any

from protection.attestation.app_attest.assertion import verify_assertion
from protection.attestation.app_attest.attestation import verify_attestation
from protection.attestation.app_attest.challenges import app_attest_challenge_issue
from protection.attestation.app_attest.wire import NAME, AttestedDevice
from protection.attestation.base import Attested, verifier_register
from protection.conf import gatehouse_settings

KEY_ID_HEADER = "x-apple-appattest-keyid"


class AppAttestVerifier:
    """The App Attest verifier under its contract name, ``app_attest``."""

    name = NAME

    def challenge_issue(self, *, now: float | None = None) -> str:
        return app_attest_challenge_issue(now=now)

    def verify_attestation(self, **kwargs: Any) -> AttestedDevice:
        return verify_attestation(**kwargs)

    def verify_assertion(self, **kwargs: Any) -> AttestedDevice:
        return verify_assertion(**kwargs)


app_attest = AppAttestVerifier()


class AppAttestEvidence:
    """The evidence side: which headers, whether configured, verify one request."""

    name = NAME

    def evidence_keys(self) -> tuple[str, ...]:
        return (KEY_ID_HEADER,)

    def configured(self, *, api_key: Any) -> bool:
        return bool(gatehouse_settings.APP_ATTEST_APP_IDS)

    def verify(
        self,
        *,
        api_key: Any,
        evidence: Any,
        purpose: str,
        bound_value: str | None,
        now: datetime.datetime,
    ) -> Attested:
        key_id = evidence.get(KEY_ID_HEADER, "")
        client_data = evidence.get("x-apple-appattest-clientdata", "")
        attestation = evidence.get("x-apple-appattest-attestation")
        if purpose == "session" and attestation:
            device = verify_attestation(
                key_id=key_id, attestation=attestation, client_data=client_data, api_key=api_key,
                now=now,
            )  # fmt: skip
        else:
            device = verify_assertion(
                key_id=key_id,
                assertion=evidence.get("x-apple-appattest-assertion", ""),
                client_data=client_data,
                api_key=api_key,
                method=evidence.get(":method"),
                path=evidence.get(":path"),
                now=now,
            )
        return Attested(verifier=NAME, device_id=device.device_id)


verifier_register(AppAttestEvidence())
