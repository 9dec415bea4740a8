"""DRF permission classes: adapters over the gate's steps scope and attestation."""

from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from protection.http.gate import gate_attestation, gate_scope


class HasApiKeyScope(BasePermission):
    """Allow when the caller's API key carries the view's ``required_scope``."""

    def has_permission(self, request: Request, view: Any) -> bool:
        gate_scope(request, view.required_scope)
        return True


class HasAppAttestation(BasePermission):
    """App attestation: at session start (a view's ``attestation_purpose =
    "session"``) the evidence the key requires; on other requests, for keys
    with ``attest_every_request``.

    Evidence that is present is always checked, required or not: invalid
    evidence is refused even where attestation is optional. Put it after the
    authentication that names the caller.
    """

    def has_permission(self, request: Request, view: Any) -> bool:
        gate_attestation(request, purpose=getattr(view, "attestation_purpose", "request"))
        return True
