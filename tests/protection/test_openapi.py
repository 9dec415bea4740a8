"""protection.openapi: error responses derived from a view's own classes."""

import pytest
from django.urls import path
from drf_spectacular.generators import SchemaGenerator
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle
from rest_framework.views import APIView

from protection.authentication import ApiKeyAuthentication, SessionTokenAuthentication
from protection.http.serializers import StrictSerializer
from protection.openapi import class_error_codes, class_request_headers
from protection.permissions import HasApiKeyScope, HasAppAttestation


def _operation(view, method="post"):
    generator = SchemaGenerator(patterns=[path("api/v1/thing", view.as_view())])
    document = generator.get_schema(request=None, public=True)
    return document, document["paths"]["/api/v1/thing"][method]


def test_a_subclass_inherits_its_bases_codes():
    key_codes = class_error_codes(ApiKeyAuthentication)
    session_codes = class_error_codes(SessionTokenAuthentication)
    assert "api_key_invalid" in key_codes and "token_expired" not in key_codes
    assert set(key_codes) < set(session_codes) and "token_expired" in session_codes
    assert class_error_codes(HasApiKeyScope) == ["scope_denied"]


def test_a_class_attribute_wins_over_the_table():
    class Custom(ApiKeyAuthentication):
        error_codes = ["api_key_missing"]

    assert class_error_codes(Custom) == ["api_key_missing"]


class Body(StrictSerializer):
    exactly_one_of = ("a", "b")
    a = serializers.CharField(required=False)
    b = serializers.CharField(required=False)


class KeyView(APIView):
    authentication_classes = [ApiKeyAuthentication]
    permission_classes = [HasApiKeyScope]
    required_scope = "lookup"
    rate_limit_group = "lookup"
    error_codes = ["conflict"]
    serializer_class = Body

    def post(self, request):
        return Response({})


def test_errors_come_from_the_views_classes():
    _, operation = _operation(KeyView)
    responses = operation["responses"]
    assert {"400", "401", "403", "404", "405", "406", "409", "413", "415", "429", "503"} <= set(
        responses
    )
    assert "`api_key_invalid`" in responses["401"]["description"]
    assert "`token_expired`" not in responses["401"]["description"]  # no session here
    assert "`scope_denied`" in responses["403"]["description"]
    assert "`conflict`" in responses["409"]["description"]
    assert responses["429"]["headers"]["Retry-After"]["required"] is True


def test_strict_bodies_are_exact():
    document, operation = _operation(KeyView)
    assert operation["requestBody"]["required"] is True
    body = document["components"]["schemas"]["BodyRequest"]
    assert body["additionalProperties"] is False
    assert body["oneOf"] == [{"required": ["a"]}, {"required": ["b"]}]


class OpenView(APIView):
    authentication_classes = []
    permission_classes = []
    throttle_classes = [AnonRateThrottle]

    def get(self, request):
        return Response({})


def test_a_plain_drf_throttle_documents_429_and_no_auth_errors():
    _, operation = _operation(OpenView, "get")
    assert "429" in operation["responses"]
    assert "401" not in operation["responses"]
    assert "415" not in operation["responses"]  # no body on GET


def test_an_unknown_code_is_refused_at_generation():
    class Typo(KeyView):
        error_codes = ["no_such_code"]

    with pytest.raises(ValueError, match="no_such_code"):
        _operation(Typo)


def test_request_header_sets_come_from_the_classes():
    assert class_request_headers(ApiKeyAuthentication) == []
    assert class_request_headers(SessionTokenAuthentication) == ["dpop"]
    assert class_request_headers(HasAppAttestation) == ["attestation"]

    class Own(SessionTokenAuthentication):
        request_headers = []

    assert class_request_headers(Own) == []


class SessionView(APIView):
    authentication_classes = [SessionTokenAuthentication]
    permission_classes = [HasApiKeyScope, HasAppAttestation]
    required_scope = "lookup"

    def post(self, request):
        return Response({})


def _header_names(operation):
    return {p["name"] for p in operation.get("parameters", []) if p["in"] == "header"}


def test_a_session_view_documents_dpop_and_attestation_from_its_classes():
    _, operation = _operation(SessionView)
    assert {"DPoP", "Approov-Token", "X-Apple-AppAttest-Assertion"} <= _header_names(operation)
    assert "X-Apple-AppAttest-Attestation" not in _header_names(operation)
    responses = operation["responses"]
    assert "`dpop_binding_mismatch`" in responses["401"]["description"]
    assert "DPoP-Nonce" in responses["401"]["headers"]
    assert "`attestation_invalid`" in responses["403"]["description"]
    assert "`attestation_unavailable`" in responses["503"]["description"]


def test_a_view_declares_extra_header_sets():
    class Start(KeyView):
        request_headers = ["attestation_session", "dpop"]

    _, operation = _operation(Start)
    names = _header_names(operation)
    assert {"DPoP", "X-Apple-AppAttest-Attestation", "X-Firebase-AppCheck"} <= names
    assert "`dpop_required`" in operation["responses"]["401"]["description"]
    _, plain = _operation(KeyView)
    assert not {"DPoP", "Approov-Token"} & _header_names(plain)
    assert "DPoP-Nonce" not in plain["responses"]["401"]["headers"]


def test_an_unknown_header_set_is_refused_at_generation():
    class Typo(KeyView):
        request_headers = ["dpopp"]

    with pytest.raises(ValueError, match="dpopp"):
        _operation(Typo)
