"""HTTP views of the protection app: thin wrappers around one service call each.

The gate (``protection.http.gate``) has run every refusal step by the time a
view's handler runs; a view's ``gate_plan`` parses its body at the gate's
body step, and the session view asks the gate for its last step, the
evidence, before it issues.
"""

import re
from dataclasses import dataclass

from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_serializer,
)
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from protection.attestation.app_attest import app_attest_challenge_issue
from protection.authentication import ApiKeyAuthentication, SessionTokenAuthentication
from protection.challenges import ChallengeEvidence, pat_authorization_token
from protection.challenges.pow import pow_solve_time
from protection.http.caller import request_caller, request_session
from protection.http.context import Caller, request_context
from protection.http.gate import gate_evidence
from protection.http.plan import GatePlan
from protection.http.risk import risk_challenge_issue
from protection.http.serializers import StrictSerializer
from protection.openapi import NO_STORE_HEADER
from protection.permissions import HasApiKeyScope, HasAppAttestation
from protection.sessions import (
    DpopRequest,
    session_issue,
    session_refresh,
    session_revoke,
)

# --- Challenges and anonymous sessions -------------------------------------
#
# Device ids: the body field ``device_id`` wins over the ``X-Device-Id``
# header when both are sent (the body is what the client composed for this
# call; the header is often a blanket default set on every request).

DEVICE_ID_PATTERN = r"^[\x21-\x7e]{1,128}$"  # printable ASCII, no spaces
# The header may also be sent empty: the server then reads no device id.
DEVICE_ID_HEADER_PATTERN = r"^[\x21-\x7e]{0,128}$"
# Tokens and one-time challenges must never sit in a browser or proxy cache.
NO_STORE = {"Cache-Control": "no-store"}


def _dpop_request(request: Request) -> DpopRequest:
    """The DPoP side of a request: its proof header, method and path."""
    return DpopRequest(
        proof=request.headers.get("DPoP"), method=request.method or "", path=request.path
    )


@dataclass(frozen=True)
class SessionStart:
    """A session request's body: the evidence, and the device the client claims."""

    altcha: str
    recaptcha_token: str
    device_id: str
    turnstile_token: str = ""
    hcaptcha_token: str = ""


def _session_start_parse(request: Request, caller: Caller) -> SessionStart:
    serializer = SessionCreateView.InputSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    data = serializer.validated_data
    header = request.META.get("HTTP_X_DEVICE_ID", "").strip()
    # A malformed header is refused even when the body's device_id wins.
    if header and not re.fullmatch(DEVICE_ID_PATTERN, header):
        raise serializers.ValidationError({"X-Device-Id": ["Printable ASCII, 1-128 chars."]})
    return SessionStart(
        altcha=data.get("altcha", ""),
        recaptcha_token=data.get("recaptcha_token", ""),
        device_id=data.get("device_id") or header,
        turnstile_token=data.get("turnstile_token", ""),
        hcaptcha_token=data.get("hcaptcha_token", ""),
    )


def _refresh_parse(request: Request, caller: Caller) -> str:
    serializer = SessionRefreshView.InputSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data["refresh"]


class SessionTokensSerializer(serializers.Serializer):
    session_id = serializers.UUIDField(source="session.id")
    access = serializers.CharField()
    refresh = serializers.CharField()
    token_type = serializers.ChoiceField(
        choices=["Bearer", "DPoP"],
        help_text="`DPoP` when the tokens are bound to the key of the DPoP proof sent at "
        "session start: send them as `Authorization: DPoP` with a proof on every request.",
    )
    expires_in = serializers.IntegerField()


class ChallengeView(APIView):
    """Issue a proof-of-work challenge and say which evidence this client must show."""

    authentication_classes = [ApiKeyAuthentication]
    permission_classes = [HasApiKeyScope]
    required_scope = "session"
    rate_limit_group = "challenge"
    risk_stage = "challenge"  # the challenge ladder decides what this client is asked
    error_codes = ["risk_too_high"]

    @extend_schema_serializer(component_name="Challenge")
    class OutputSerializer(serializers.Serializer):
        altcha = serializers.DictField(
            help_text="ALTCHA v2 challenge: parameters + signature. Its `maxNumber` is this "
            "client's difficulty (higher when the challenge ladder asks for a harder proof)."
        )
        requires = serializers.ListField(
            child=serializers.CharField(),
            help_text="The evidence this client must show at session start: the key's "
            "required verifications plus what the challenge ladder asks for its risk.",
        )
        requires_with_pat = serializers.ListField(
            child=serializers.CharField(),
            allow_null=True,
            help_text="What a valid Private Access Token would bring `requires` down to (the "
            "token replaces what the ladder added), when one would and the response carries "
            "a `WWW-Authenticate: PrivateToken` challenge to obtain it; else null.",
        )
        recaptcha_site_key = serializers.CharField(allow_null=True)
        turnstile_site_key = serializers.CharField(
            allow_null=True,
            help_text="The site key to render Cloudflare Turnstile with, when `requires` "
            "names `turnstile`; else null.",
        )
        hcaptcha_site_key = serializers.CharField(
            allow_null=True,
            help_text="The site key to render hCaptcha with, when `requires` names "
            "`hcaptcha`; else null.",
        )
        turnstile_action = serializers.CharField(
            allow_null=True,
            help_text="The `action` to render Turnstile with (the key's; checked on the "
            "token), when `requires` names `turnstile`; else null.",
        )
        app_attest_challenge = serializers.CharField(
            required=False,
            help_text="Only for keys that require app_attest: the server challenge the "
            "app's App Attest client data must carry.",
        )

    @extend_schema(
        operation_id="create_challenge",
        summary="Get a proof-of-work challenge",
        request=None,
        parameters=[NO_STORE_HEADER],
        responses={201: OutputSerializer},
    )
    def post(self, request: Request) -> Response:
        body, headers = risk_challenge_issue(request_context(request))
        if "app_attest" in body["requires"]:
            body["app_attest_challenge"] = app_attest_challenge_issue()
        return Response(
            self.OutputSerializer(body).data, status=201, headers={**NO_STORE, **headers}
        )


class SessionCreateView(APIView):
    """Exchange the evidence the key requires for an anonymous session."""

    authentication_classes = [ApiKeyAuthentication]
    # Attestation before the proof of work: a refused attestation spends no challenge.
    permission_classes = [HasApiKeyScope, HasAppAttestation]
    required_scope = "session"
    rate_limit_group = "session"
    risk_stage = "session"  # the challenge ladder decides what this client must show
    attestation_purpose = "session"
    dpop_binds_session = True  # a DPoP proof names the key the tokens are bound to
    gate_plan = GatePlan(parse=_session_start_parse)
    # Attestation evidence (as the key requires), a DPoP proof to bind the tokens,
    # a Private Access Token (Authorization: PrivateToken).
    request_headers = ["attestation_session", "dpop", "pat"]
    error_codes = [
        "challenge_failed",
        "challenge_replayed",
        "recaptcha_failed",
        "recaptcha_unavailable",
        "captcha_failed",
        "captcha_unavailable",
        "risk_too_high",
        "attestation_required",
        "dpop_required",
    ]

    @extend_schema_serializer(component_name="SessionCreate")
    class InputSerializer(StrictSerializer):
        altcha = serializers.CharField(required=False, allow_blank=True, max_length=4096)
        recaptcha_token = serializers.CharField(required=False, allow_blank=True, max_length=4096)
        turnstile_token = serializers.CharField(
            required=False,
            allow_blank=True,
            max_length=2048,
            help_text="The Cloudflare Turnstile token, for keys that require `turnstile`.",
        )
        hcaptcha_token = serializers.CharField(
            required=False,
            allow_blank=True,
            max_length=8192,
            help_text="The hCaptcha token, for keys that require `hcaptcha`.",
        )
        device_id = serializers.RegexField(
            DEVICE_ID_PATTERN, required=False, allow_blank=True, max_length=128
        )

    @extend_schema(
        operation_id="create_session",
        summary="Start an anonymous session",
        request=InputSerializer,
        parameters=[
            OpenApiParameter(
                "X-Device-Id",
                str,
                OpenApiParameter.HEADER,
                required=False,
                pattern=DEVICE_ID_HEADER_PATTERN,
                description="Device id when the body has no `device_id` (the body wins).",
            ),
            NO_STORE_HEADER,
        ],
        responses={201: SessionTokensSerializer},
    )
    def post(self, request: Request) -> Response:
        context = request_context(request)
        body: SessionStart = context.body
        outcome = gate_evidence(
            request,
            evidence=ChallengeEvidence(
                altcha=body.altcha,
                recaptcha_token=body.recaptcha_token,
                turnstile_token=body.turnstile_token,
                hcaptcha_token=body.hcaptcha_token,
                private_token=pat_authorization_token(request.META.get("HTTP_AUTHORIZATION")),
            ),
        )
        api_key = request_caller(request).api_key
        risk = context.risk
        issued = session_issue(
            api_key=api_key,
            client_ip=context.client_ip,
            user_agent=request.META.get("HTTP_USER_AGENT", ""),
            # A device an attestation verified wins over the one the client claims.
            device_id=context.attested.device_id or body.device_id,
            device_verified=bool(context.attested.device_id),
            jkt=context.dpop_jkt,
            start_signals={
                "device_verified": bool(context.attested.device_id),
                "attested": list(context.attested.verified),
                # The solve time the client reported, for a solution the gate accepted.
                "pow_ms": pow_solve_time(body.altcha) if "pow" in outcome.shown else None,
                # The challenge ladder's tier and score at session start.
                "tier": risk.step.tier if risk is not None else None,
                "risk": risk.step.risk if risk is not None else None,
            },
        )
        return Response(SessionTokensSerializer(issued).data, status=201, headers=NO_STORE)


class SessionRefreshView(APIView):
    """Rotate a refresh token: a new pair; the old refresh token is dead."""

    authentication_classes = [ApiKeyAuthentication]
    permission_classes = [HasApiKeyScope]
    required_scope = "session"
    rate_limit_group = "refresh"
    gate_plan = GatePlan(parse=_refresh_parse)
    request_headers = ["dpop"]  # a proof by the bound key, for a DPoP-bound session
    # The refresh token in the body, refused like an access token.
    error_codes = ["token_invalid", "token_expired", "session_revoked", "session_expired"]

    @extend_schema_serializer(component_name="SessionRefresh")
    class InputSerializer(StrictSerializer):
        # Opaque: a padded token is an invalid token (401), not a blank field.
        refresh = serializers.CharField(max_length=4096, trim_whitespace=False)

    @extend_schema(
        operation_id="refresh_session",
        summary="Refresh the session's tokens",
        request=InputSerializer,
        parameters=[NO_STORE_HEADER],
        responses={200: SessionTokensSerializer},
    )
    def post(self, request: Request) -> Response:
        issued = session_refresh(
            raw_refresh=request_context(request).body,
            api_key=request_caller(request).api_key,
            dpop=_dpop_request(request),
        )
        return Response(SessionTokensSerializer(issued).data, headers=NO_STORE)


class SessionCurrentView(APIView):
    """End the caller's session: its tokens stop working at once."""

    authentication_classes = [SessionTokenAuthentication]
    permission_classes = [HasApiKeyScope]
    required_scope = "session"
    rate_limit_group = "session"

    @extend_schema(
        operation_id="delete_current_session",
        summary="End the current session",
        request=None,
        responses={204: None},
    )
    def delete(self, request: Request) -> Response:
        session_revoke(session=request_session(request), reason="client_logout")
        return Response(status=204)
