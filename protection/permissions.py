"""DRF permission classes over the verified caller."""

from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from protection.context import Caller
from protection.errors import drf_exception
from protection.exceptions import ProtectionError
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
