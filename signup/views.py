"""HTTP views of the sign-up API: parse the body, call one service, serialize the answer.

Each view's ``gate_plan`` is how the sign-up limits plug into the gate
(``protection.http.gate``): the plan parses and validates the body (the
gate's body step), names the counters to count in the request's one round
trip and judges their results (``signup.limits``). The view then answers
with one service call on the body the gate parsed.

Longer than ~300 lines because of the OpenAPI declarations (examples,
headers, responses) each view carries; the code itself is short.
"""

from collections.abc import Sequence
from typing import Any

from django.http import HttpResponse, JsonResponse
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from protection.authentication import SessionTokenAuthentication
from protection.base.exceptions import ProtectionError
from protection.core.events import Refusal
from protection.core.ratelimit import Item, RateLimitResult
from protection.errors import PROBLEM_CONTENT_TYPE
from protection.http.caller import request_caller, request_session
from protection.http.context import Caller, request_context
from protection.http.plan import GatePlan
from protection.http.serializers import StrictSerializer
from protection.permissions import HasApiKeyScope, HasAppAttestation
from signup import limits, verifylimits
from signup.idempotency import IDEMPOTENCY_KEY_MAX_LENGTH, IDEMPOTENCY_KEY_PATTERN
from signup.persons import Person
from signup.services import (
    CreateInput,
    CreateOutcome,
    person_create,
    person_create_input,
    person_lookup,
    person_lookup_input,
)
from signup.snapshot import creation_snapshot
from signup.verification import verification_start

# Generous caps on the raw strings: normalisation applies the real limits.
RAW_EMAIL_MAX = 320
RAW_PHONE_MAX = 64
RAW_NAME_MAX = 1000


def caller_asker(caller: Caller) -> limits.Asker:
    """Who asks, as the identity limits count it: the key, the session, the IP."""
    assert caller.session is not None  # the session endpoints' authentication names it
    return limits.Asker(caller.api_key.public_id, caller.session, caller.client_ip)


def _lookup_parse(request: Request, caller: Caller) -> limits.LookupInput:
    serializer = PersonLookupView.InputSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    return person_lookup_input(**serializer.validated_data)


LOOKUP_PLAN = GatePlan(
    parse=_lookup_parse,
    hits=lambda body, caller: limits.lookup_hits(body, caller_asker(caller)),
    judge=lambda body, caller, results: limits.lookup_judge(body, caller_asker(caller), results),
    identities=lambda body, caller: limits.lookup_identities(body),
)


def _create_parse(request: Request, caller: Caller) -> CreateInput:
    serializer = PersonCreateView.InputSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    data = serializer.validated_data
    return person_create_input(
        email=data["email"],
        full_name=data["full_name"],
        phone=data.get("phone") or None,
        api_key=caller.api_key,
        idempotency_key=request.headers.get("Idempotency-Key"),
        request_data=request.data,
        client_ip=caller.client_ip,
        session_id=getattr(caller.session, "id", None),
    )


def _create_base_hits(body: CreateInput, caller: Caller) -> list[Item]:
    # In verification mode a repeat of the same sign-up is its resend: the
    # session and IP counters count it once (their member), whatever its
    # Idempotency-Key. Otherwise retries of one Idempotency-Key count once.
    member = (
        verifylimits.signup_identity_digest(body.email, body.phone)
        if body.verify != "none"
        else body.idempotency_key
    )
    return limits.create_hits(
        body.email, caller_asker(caller), idempotency_key=member, replay=body.replay is not None
    )


def _create_judge(
    body: CreateInput, caller: Caller, results: Sequence[RateLimitResult]
) -> Refusal | None:
    asker = caller_asker(caller)
    base = len(_create_base_hits(body, caller))
    return limits.create_judge(body.email, asker, results[:base]) or verifylimits.verify_judge(
        body, asker, results[base:]
    )


CREATE_PLAN = GatePlan(
    parse=_create_parse,
    hits=lambda body, caller: [
        *_create_base_hits(body, caller),
        *verifylimits.verify_hits(body, caller_asker(caller)),
    ],
    judge=_create_judge,
    identities=lambda body, caller: limits.create_identities(
        body.email, body.phone, replay=body.replay is not None
    ),
)


# The create's and the confirm's Idempotency-Key, in the schema.
IDEMPOTENCY_PARAMETERS = [
    OpenApiParameter(
        "Idempotency-Key",
        {"type": "string", "minLength": 1, "maxLength": IDEMPOTENCY_KEY_MAX_LENGTH},
        OpenApiParameter.HEADER,
        required=False,
        pattern=IDEMPOTENCY_KEY_PATTERN,
        description="1–255 visible ASCII characters, unique per request; kept 24 h.",
    ),
    OpenApiParameter(
        "Idempotent-Replayed",
        {"type": "string", "enum": ["true"]},
        OpenApiParameter.HEADER,
        response=True,
        description="`true` when this is the stored answer to an earlier request.",
    ),
]


def outcome_response(outcome: CreateOutcome) -> HttpResponse:
    """A create's (or confirm's) answer: JSON, or problem+json; marked when replayed."""
    response: HttpResponse
    if outcome.status < 400:
        response = Response(outcome.body, status=outcome.status)
    else:
        response = JsonResponse(
            outcome.body, status=outcome.status, content_type=PROBLEM_CONTENT_TYPE
        )
    if outcome.replayed:
        response["Idempotent-Replayed"] = "true"
    return response


class PersonApiView(APIView):
    """Session endpoints that take personal identifiers, in the JSON body only."""

    authentication_classes = [SessionTokenAuthentication]
    permission_classes = [HasApiKeyScope, HasAppAttestation]
    # Query strings end up in access logs, proxies and browser history (names
    # compared case-insensitively: ?EMAIL= is the same mistake).
    identifier_query_names: tuple[str, ...] = ("email", "phone", "full_name")

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        names = {name.lower() for name in request.query_params}
        if names & set(self.identifier_query_names):
            raise ProtectionError(
                "invalid_request", "Send email, phone and full_name in the JSON body, not the URL."
            )
        super().initial(request, *args, **kwargs)


class LookupRenderer(JSONRenderer):
    """Renders ``{"exists":true }`` and ``{"exists":false}``: the same 16 bytes.

    Without the pad, the body length alone (15 vs 16) would answer the lookup
    to anyone who can see encrypted traffic sizes.
    """

    def render(
        self, data: Any, accepted_media_type: Any = None, renderer_context: Any = None
    ) -> bytes:
        if isinstance(data, dict) and set(data) == {"exists"} and isinstance(data["exists"], bool):
            return b'{"exists":true }' if data["exists"] else b'{"exists":false}'
        return super().render(data, accepted_media_type, renderer_context)


class PersonLookupView(PersonApiView):
    # The hot path: the request's own limits (IP, key, session, its session's
    # revocation state) are counted with the lookup limits after the body was
    # validated: one Redis round trip in all, then one query.
    gate_plan = LOOKUP_PLAN
    renderer_classes = [LookupRenderer]
    required_scope = "lookup"
    rate_limit_group = "lookup"

    class InputSerializer(StrictSerializer):
        exactly_one_of = ("email", "phone")

        email = serializers.CharField(
            required=False, max_length=RAW_EMAIL_MAX, trim_whitespace=False
        )
        phone = serializers.CharField(
            required=False, max_length=RAW_PHONE_MAX, trim_whitespace=False
        )

        class Meta:
            ref_name = "PersonLookup"

    class OutputSerializer(serializers.Serializer):
        exists = serializers.BooleanField()

        class Meta:
            ref_name = "PersonLookupResult"

    @extend_schema(
        operation_id="find_person",
        summary="Does a person with this email or phone exist?",
        description=(
            "Needs an API key with scope `lookup` (X-Api-Key) and a session access token "
            "(`Authorization: Bearer`, or `DPoP` with a `DPoP` proof for a bound session). "
            "Send exactly one of `email` or `phone`. The answer for "
            "an existing and a missing person differs only in the boolean (the body is padded "
            "to a fixed 16 bytes). Limited per session, per identifier and per distinct "
            "identifiers from one IP or key (429 `rate_limited` with Retry-After)."
        ),
        request=InputSerializer,
        responses={200: OutputSerializer},
        examples=[
            OpenApiExample("by email", value={"email": "ada@example.com"}, request_only=True),
            OpenApiExample("by phone", value={"phone": "+12015550123"}, request_only=True),
        ],
        tags=["persons"],
    )
    def post(self, request: Request) -> Response:
        exists = person_lookup(lookup=request_context(request).body)
        return Response(self.OutputSerializer({"exists": exists}).data)


class PersonCreateView(PersonApiView):
    required_scope = "create"
    rate_limit_group = "create"
    gate_plan = CREATE_PLAN
    error_codes = [
        "disposable_email",
        "phone_not_allowed",
        "phone_country_not_allowed",
        "conflict",
        "idempotency_conflict",
        "idempotency_in_progress",
    ]

    class InputSerializer(StrictSerializer):
        email = serializers.CharField(max_length=RAW_EMAIL_MAX, trim_whitespace=False)
        full_name = serializers.CharField(max_length=RAW_NAME_MAX, trim_whitespace=False)
        phone = serializers.CharField(
            required=False,
            allow_null=True,
            allow_blank=True,
            max_length=RAW_PHONE_MAX,
            trim_whitespace=False,
        )

        class Meta:
            ref_name = "PersonCreate"

    class OutputSerializer(serializers.ModelSerializer):
        class Meta:
            model = Person
            fields = ["id", "email", "phone", "full_name", "created_at"]
            ref_name = "Person"

    class PendingSerializer(serializers.Serializer):
        status = serializers.ChoiceField(choices=["pending"])
        channel = serializers.ChoiceField(
            choices=["email", "sms"], help_text="Where the code went: the email, or the phone."
        )
        expires_in = serializers.IntegerField(help_text="Seconds the code stays valid.")

        class Meta:
            ref_name = "PendingSignup"

    @extend_schema(
        operation_id="create_person",
        summary="Create a person",
        description=(
            "Needs an API key with scope `create` (X-Api-Key) and a session access token "
            "(Bearer, or DPoP with a proof). "
            "Unknown fields are refused. The email is normalised (trimmed, NFKC, domain "
            "lower-cased; the part before @ is kept as typed) and the phone stored in E.164. "
            "409 `conflict` when the email or phone already belongs to someone. With an "
            "`Idempotency-Key`, retrying the same body replays the first answer (header "
            "`Idempotent-Replayed: true`); the same key with another body is 422.\n\n"
            "**Verification mode** (`GATEHOUSE_SIGNUP_VERIFY=email|phone`): the answer is "
            "202 `PendingSignup` instead, byte for byte the same whether or not the address "
            "is taken (never 409). A new address gets a 6-digit code (by mail with a link, "
            "or by SMS in phone mode, where `phone` is required); a taken one gets nothing "
            "and its owner a notice. Confirm with `POST /api/v1/persons/confirm`. Repeating "
            "the create is the resend: within 60 s it sends nothing, after that a new code. "
            "Phone mode refuses premium-rate, shared-cost, toll-free, UAN, VoIP and pager "
            "numbers (400 `phone_not_allowed`) and numbers outside `SMS_COUNTRIES` (400 "
            "`phone_country_not_allowed`)."
        ),
        parameters=IDEMPOTENCY_PARAMETERS,
        request=InputSerializer,
        responses={201: OutputSerializer, 202: PendingSerializer},
        examples=[
            OpenApiExample(
                "person",
                value={
                    "email": "ada@example.com",
                    "full_name": "Ada Lovelace",
                    "phone": "+12015550123",
                },
                request_only=True,
            ),
            OpenApiExample(
                "pending (verification mode)",
                value={"status": "pending", "channel": "email", "expires_in": 900},
                response_only=True,
                status_codes=["202"],
            ),
        ],
        tags=["persons"],
    )
    def post(self, request: Request) -> HttpResponse:
        context = request_context(request)
        data: CreateInput = context.body
        caller = request_caller(request)
        if data.verify != "none":
            base = len(_create_base_hits(data, caller))
            outcome = verification_start(
                data=data,
                send=verifylimits.verify_send(
                    data, caller_asker(caller), context.plan_results[base:]
                ),
                api_key=caller.api_key,
                session=request_session(request),
                client_ip=context.client_ip,
                verdict=context.verdict,
                snapshot=creation_snapshot(context),
            )
        else:
            outcome = person_create(
                data=data,
                api_key=caller.api_key,
                session=request_session(request),
                client_ip=context.client_ip,
                render=lambda person: dict(self.OutputSerializer(person).data),
                verdict=context.verdict,
                snapshot=creation_snapshot(context),
            )
        if outcome.replayed:
            # A retry that raced its first use (counted before the first
            # answer was stored) created nobody: its identities are given back.
            context.succeeded = False
        return outcome_response(outcome)
