"""DRF permission classes over the verified caller."""

from typing import TYPE_CHECKING

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from protection.authentication import Caller
from protection.exceptions import ProtectionError
from protection.keys import api_key_require_scope

if TYPE_CHECKING:
    # Typing only: rest_framework.views imports this module when it is named in
    # DEFAULT_PERMISSION_CLASSES, so importing it here would be a cycle.
    from rest_framework.views import APIView


class HasApiKeyScope(BasePermission):
    """Allow when the caller's API key carries the view's ``required_scope``."""

    def has_permission(self, request: Request, view: "APIView") -> bool:
        caller = request.auth
        if not isinstance(caller, Caller):
            raise ProtectionError("api_key_missing")
        api_key_require_scope(
            caller.api_key,
            view.required_scope,
            request=request,  # type: ignore[attr-defined]
        )
        return True
