"""HTTP view of ``POST /api/v1/persons/confirm``: a verification code (or the
mailed link's token) becomes the person.

Its own endpoint group (``confirm``: per IP, key and session) and plan: the
body is validated before anything is counted, then the identity limits of
``signup.verifylimits`` are counted in the request's one round trip. The
view calls ``signup.confirmation.verification_confirm``.
"""

from django.http import HttpResponse
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers
from rest_framework.request import Request

from protection.http.caller import request_caller, request_session
from protection.http.context import Caller, request_context
from protection.http.plan import GatePlan
from protection.http.serializers import StrictSerializer
from signup import verifylimits
from signup.confirmation import ConfirmInput, verification_confirm, verification_confirm_input
from signup.verification import CODE_DIGITS
from signup.views import (
    IDEMPOTENCY_PARAMETERS,
    RAW_EMAIL_MAX,
    RAW_PHONE_MAX,
    PersonApiView,
    PersonCreateView,
    caller_asker,
    outcome_response,
)

TOKEN_MAX = 100


def _confirm_parse(request: Request, caller: Caller) -> ConfirmInput:
    serializer = PersonConfirmView.InputSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    data = serializer.validated_data
    return verification_confirm_input(
        api_key=caller.api_key,
        email=data.get("email"),
        phone=data.get("phone"),
        code=data.get("code"),
        token=data.get("token"),
        idempotency_key=request.headers.get("Idempotency-Key"),
        request_data=request.data,
    )


CONFIRM_PLAN = GatePlan(
    parse=_confirm_parse,
    hits=lambda body, caller: verifylimits.confirm_hits(body, caller_asker(caller)),
    judge=lambda body, caller, results: verifylimits.confirm_judge(
        body, caller_asker(caller), results
    ),
)


class PersonConfirmView(PersonApiView):
    required_scope = "create"
    rate_limit_group = "confirm"
    gate_plan = CONFIRM_PLAN
    identifier_query_names = ("email", "phone", "code", "token")
    error_codes = [
        "verification_code_invalid",
        "verification_expired",
        "conflict",
        "idempotency_conflict",
        "idempotency_in_progress",
    ]

    class InputSerializer(StrictSerializer):
        one_of_field_sets = (("email", "code"), ("phone", "code"), ("token",))

        email = serializers.CharField(
            required=False, max_length=RAW_EMAIL_MAX, trim_whitespace=False
        )
        phone = serializers.CharField(
            required=False, max_length=RAW_PHONE_MAX, trim_whitespace=False
        )
        code = serializers.RegexField(
            rf"^[0-9]{{{CODE_DIGITS}}}$",
            required=False,
            max_length=CODE_DIGITS,
            help_text=f"The {CODE_DIGITS}-digit code, with `email` or `phone`.",
        )
        token = serializers.CharField(
            required=False,
            max_length=TOKEN_MAX,
            trim_whitespace=False,
            help_text="The token of the mailed link (its `#t=` fragment), alone.",
        )

        class Meta:
            ref_name = "PersonConfirm"

    @extend_schema(
        operation_id="confirm_person",
        summary="Confirm a sign-up with its code (verification mode)",
        description=(
            "Needs an API key with scope `create` and a session access token, as the create. "
            'Send the address the code went to with the code (`{"email": …, "code": '
            '"123456"}`, or `phone` in phone mode), from the session that made the create; '
            'or the mailed link\'s token alone (`{"token": …}`), from any session. 201 with '
            "the person, as the create answers without verification. 400 "
            "`verification_code_invalid` for a wrong code (and for every code of an address "
            "that was taken: it never confirms); after "
            "5 wrong codes, or once the code expired or was used, 400 `verification_expired` "
            "(repeat the create for a new code). 409 `conflict` if the address was taken "
            "after the code was sent. Limited per IP, key and session (group `confirm`), per "
            "address and per device. `Idempotency-Key` as on the create: a 201 is replayed."
        ),
        parameters=IDEMPOTENCY_PARAMETERS,
        request=InputSerializer,
        responses={201: PersonCreateView.OutputSerializer},
        examples=[
            OpenApiExample(
                "code", value={"email": "ada@example.com", "code": "123456"}, request_only=True
            ),
            OpenApiExample("link", value={"token": "N3B0c…"}, request_only=True),
        ],
        tags=["persons"],
    )
    def post(self, request: Request) -> HttpResponse:
        context = request_context(request)
        outcome = verification_confirm(
            data=context.body,
            api_key=request_caller(request).api_key,
            session=request_session(request),
            client_ip=context.client_ip,
            render=lambda person: dict(PersonCreateView.OutputSerializer(person).data),
        )
        return outcome_response(outcome)
