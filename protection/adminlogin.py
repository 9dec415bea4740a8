"""Failed admin and staff logins become security events.

django-axes (``AXES_*`` in settings) limits failed logins per client IP and
per username and locks out for a cool-off time; this module only listens:
Django's ``user_login_failed`` and axes' ``user_locked_out`` each write one
``SecurityEvent`` (``admin_login_failed`` / ``admin_locked_out``), so they
show on the security dashboard next to the API's denials. Recording never
decides anything (the lockout is axes' decision).

The username is kept only when it names an existing account; anything else
(often a password typed into the wrong box) is stored as a keyed digest.
"""

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_login_failed
from django.http import HttpRequest

from protection.base import crypto
from protection.core.events import event_record
from protection.http.context import client_ip

LOGIN_FAILED = "admin_login_failed"
LOCKED_OUT = "admin_locked_out"


def login_client_ip(request: HttpRequest) -> str:
    """AXES_CLIENT_IP_CALLABLE: the same client IP the API uses (trusted proxies honoured)."""
    return client_ip(request)


def _username_label(username: Any) -> str:
    text = str(username or "")[:150]
    if text and get_user_model()._default_manager.filter(**{"username": text}).exists():
        return text
    return "digest:" + crypto.keyed_digest(text, purpose="admin-login-username")[:16]


def on_login_failed(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    event_record(
        kind=LOGIN_FAILED,
        decision="deny",
        reason="bad_credentials",
        client_ip=client_ip(request) if request is not None else None,
        path=request.path if request is not None else None,
        details={"username": _username_label(credentials.get("username"))},
    )


def on_locked_out(
    sender: Any,
    request: HttpRequest | None = None,
    username: Any = None,
    ip_address: str | None = None,
    **kwargs: Any,
) -> None:
    event_record(
        kind=LOCKED_OUT,
        decision="alert",
        reason="too_many_failures",
        client_ip=ip_address or (client_ip(request) if request is not None else None),
        path=request.path if request is not None else None,
        details={"username": _username_label(username)},
    )


def adminlogin_connect() -> None:
    """Connect the receivers (from AppConfig.ready); axes' signal only when axes is installed."""
    from django.apps import apps

    user_login_failed.connect(on_login_failed, dispatch_uid="gatehouse-login-failed")
    if apps.is_installed("axes"):
        from axes.signals import user_locked_out

        user_locked_out.connect(on_locked_out, dispatch_uid="gatehouse-locked-out")
