"""DRF permission classes over the verified caller."""

from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from protection.attestation import attestation_verify
from protection.base.exceptions import ProtectionError
from protection.errors import drf_exception
from protection.http.context import Caller, request_context
from protection.keys import api_key_require_scope


class HasApiKeyScope(BasePermission):
    """Allow when the caller's API key carries the view's ``required_scope``."""

    def has_permission(self, request: Request, view: Any) -> bool:
        caller = request.auth
        if not isinstance(caller, Caller):
            raise drf_exception(ProtectionError("api_key_missing"))
        try:
            api_key_require_scope(caller.api_key, view.required_scope)
        except ProtectionError as error:
            raise drf_exception(error) from None
        return True


class HasAppAttestation(BasePermission):
    """App attestation on every request, for keys with ``attest_every_request``.

    Evidence that is present is always checked, required or not: invalid
    evidence is refused even where attestation is optional. Put it after
    the authentication that names the caller (lookup and create use it).
    """

    def has_permission(self, request: Request, view: Any) -> bool:
        caller = request.auth
        if not isinstance(caller, Caller):
            raise drf_exception(ProtectionError("api_key_missing"))
        context = request_context(request)
        # The request's method and path, for evidence signed over them (App
        # Attest assertions): an assertion cannot be replayed elsewhere.
        evidence = {**request.headers, ":method": request.method, ":path": context.path}
        try:
            attestation_verify(
                api_key=caller.api_key,
                evidence=evidence,
                purpose="request",
                client_ip=context.client_ip,
                session_id=getattr(caller.session, "id", None),
            )
        except ProtectionError as error:
            raise drf_exception(error) from None
        return True
