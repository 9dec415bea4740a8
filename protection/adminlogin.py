"""The admin door: who may reach the admin, how often anyone may try to log in,
and failed logins as security events.

Each failed login costs a password hash (hundreds of milliseconds of CPU)
on the workers that serve the API. ``AdminLoginGuardMiddleware`` (after the
API's middleware in ``MIDDLEWARE``) decides before any hash:

- ``ADMIN_NETWORKS`` (``GATEHOUSE_ADMIN_NETWORKS``): when set, only those
  networks reach anything under the admin (403 elsewhere). Empty (the
  default): everyone may reach the login page;
- every login attempt (a POST to the login page) is counted with the API's
  limiter, in one round trip: per client IP (IPv6 by its /64, as the API
  groups it; ``ADMIN_LOGIN_IP_RATES``) and, for clients outside
  ``ADMIN_NETWORKS``, against one budget for all of them
  (``ADMIN_LOGIN_GLOBAL_RATES``), so staff inside can always log in;
- a username that failed ``ADMIN_LOGIN_USERNAME_RATE`` times from anywhere
  is refused for the rest of that window (short, and attempts during it are
  refused here, so they never extend it), except from ``ADMIN_NETWORKS``.

Over a limit: a 429 page with ``Retry-After``, no hash, and one
``admin_login_throttled`` event within the write budget. django-axes keeps
the long lockout per username *and* address (``AXES_LOCKOUT_PARAMETERS``),
never extended by attempts during it. Django's ``user_login_failed`` and
axes' ``user_locked_out`` each record one event (``admin_login_failed`` /
``admin_locked_out``, both within the write budget); recording never
decides anything. Usernames are kept only when they name an account; any
other text (often a password typed into the wrong box) is a keyed digest.
"""

import datetime
import functools
import math
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_login_failed
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, get_script_prefix, reverse
from django.utils import timezone

from protection.base import crypto
from protection.base.clientip import ip_in_networks, rate_limit_ident
from protection.base.processstate import process_state_register
from protection.conf import gatehouse_settings
from protection.core.events import event_record, refuse
from protection.core.ratelimit import Hit, RateLimitResult, rate_limit_hit_many
from protection.http.context import client_ip

LOGIN_FAILED = "admin_login_failed"
LOCKED_OUT = "admin_locked_out"
THROTTLED = "admin_login_throttled"
USERNAME_GROUP = "admin_login:username"


def login_client_ip(request: HttpRequest) -> str:
    """AXES_CLIENT_IP_CALLABLE: the same client IP the API uses (trusted proxies honoured)."""
    return client_ip(request)


def _username_label(username: Any) -> str:
    text = str(username or "")[:150]
    if text and get_user_model()._default_manager.filter(**{"username": text}).exists():
        return text
    return "digest:" + crypto.keyed_digest(text, purpose="admin-login-username")[:16]


def _username_ident(username: Any) -> str:
    return crypto.keyed_digest(str(username or "")[:150], purpose="admin-login-username")


def _inside(ip: str) -> bool:
    """Whether ``ip`` is in ADMIN_NETWORKS (never true while it is empty)."""
    networks = gatehouse_settings.ADMIN_NETWORKS
    return bool(networks) and ip_in_networks(ip, networks)


# --- Before the login view: reach, attempts, the short username lockout -------


def _admin_paths(request: HttpRequest) -> tuple[str, str] | None:
    """The admin's index and login paths as ``path_info`` spells them, or None.

    Every request asks: reversed once per URLconf, not twice a request.
    """
    return _admin_paths_of(getattr(request, "urlconf", None) or settings.ROOT_URLCONF)


@functools.lru_cache(maxsize=8)
def _admin_paths_of(urlconf: str) -> tuple[str, str] | None:
    try:
        index, login = (reverse(name, urlconf=urlconf) for name in ("admin:index", "admin:login"))
    except NoReverseMatch:  # a project without the admin
        return None
    # reverse() puts the script prefix (SCRIPT_NAME) first; path_info has none.
    prefix = get_script_prefix()
    return "/" + index.removeprefix(prefix), "/" + login.removeprefix(prefix)


process_state_register("adminlogin.paths", _admin_paths_of.cache_clear)


def _throttled_page(request: HttpRequest, wait: int, reason: str) -> HttpResponse:
    body = render_to_string(
        "protection/admin_login_throttled.html",
        {"minutes": max(1, math.ceil(wait / 60)), "username_locked": reason.endswith("username")},
        request=request,
    )
    response = HttpResponse(body, status=429)
    response["Retry-After"] = str(wait)
    return response


def admin_login_attempt_check(request: HttpRequest, *, ip: str) -> HttpResponse | None:
    """Count one login attempt of ``request``; return the 429 page if it must not be tried.

    One round trip: the address's attempts, the outside clients' budget and
    (without incrementing) the username's failures.
    """
    inside = _inside(ip)
    hits = [Hit("admin_login:ip", rate_limit_ident(ip), rate) for rate in _ip_rates()]
    if not inside:
        hits += [Hit("admin_login:global", "outside", rate) for rate in _global_rates()]
    username = request.POST.get(get_user_model().USERNAME_FIELD, "")
    peek = Hit(
        USERNAME_GROUP,
        _username_ident(username),
        gatehouse_settings.ADMIN_LOGIN_USERNAME_RATE,
        increment=False,
    )
    results = rate_limit_hit_many([*hits, peek])
    reason, wait = _refusal(hits, results[: len(hits)])
    locked = results[-1]
    if reason is None and not inside and username and locked.count >= locked.limit:
        reason, wait = USERNAME_GROUP, locked.reset_after
    if reason is None:
        return None
    refuse(
        "rate_limited",
        kind=THROTTLED,
        reason=reason,
        client_ip=ip,
        details={"username": _username_label(username)} if reason == USERNAME_GROUP else {},
    )
    return _throttled_page(request, wait, reason)


def _refusal(hits: list[Hit], results: list[RateLimitResult]) -> tuple[str | None, int]:
    refused = [
        (hit, result) for hit, result in zip(hits, results, strict=True) if not result.allowed
    ]
    if not refused:
        return None, 0
    return refused[0][0].group, max(result.reset_after for _, result in refused)


def _ip_rates() -> list[str]:
    return list(gatehouse_settings.ADMIN_LOGIN_IP_RATES or [])


def _global_rates() -> list[str]:
    return list(gatehouse_settings.ADMIN_LOGIN_GLOBAL_RATES or [])


class AdminLoginGuardMiddleware:
    """Refuses admin requests from outside ``ADMIN_NETWORKS`` (when set) and login
    attempts over their limits, before any password hash; put it right after
    ``protection.middleware.BlockAndRateLimitMiddleware``."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        paths = _admin_paths(request)
        if paths is None or not request.path_info.startswith(paths[0]):
            return self.get_response(request)
        ip = client_ip(request)
        if gatehouse_settings.ADMIN_NETWORKS and not _inside(ip):
            refuse("forbidden", kind=THROTTLED, reason="admin_network", client_ip=ip)
            return HttpResponse("The admin is not reachable from this network.\n", status=403)
        if request.method == "POST" and request.path_info == paths[1]:
            refused = admin_login_attempt_check(request, ip=ip)
            if refused is not None:
                return refused
        return self.get_response(request)


# --- After a failure: the events, and the username's count ---------------------


def on_login_failed(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    username = credentials.get(get_user_model().USERNAME_FIELD, credentials.get("username"))
    rate_limit_hit_many(
        [
            Hit(
                USERNAME_GROUP,
                _username_ident(username),
                gatehouse_settings.ADMIN_LOGIN_USERNAME_RATE,
            )
        ]
    )
    event_record(
        kind=LOGIN_FAILED,
        decision="deny",
        reason="bad_credentials",
        client_ip=client_ip(request) if request is not None else None,
        path=request.path if request is not None else None,
        details={"username": _username_label(username)},
    )


def on_locked_out(
    sender: Any,
    request: HttpRequest | None = None,
    username: Any = None,
    ip_address: str | None = None,
    **kwargs: Any,
) -> None:
    # axes signals every attempt during a lockout: an attacker's to repeat at
    # will, so within the write budget like a denial.
    event_record(
        kind=LOCKED_OUT,
        decision="alert",
        reason="too_many_failures",
        client_ip=ip_address or (client_ip(request) if request is not None else None),
        path=request.path if request is not None else None,
        details={"username": _username_label(username)},
        bounded=True,
    )


def adminlogin_purge_expired(*, now: datetime.datetime | None = None) -> int:
    """Delete axes records nobody reads any more; return how many rows.

    Failed attempts older than ``AXES_COOLOFF_TIME`` (their lockout is over)
    and access logs older than ``EVENTS_RETENTION`` (as security events).
    """
    from django.apps import apps

    if not apps.is_installed("axes"):
        return 0
    from axes.models import AccessAttempt, AccessFailureLog, AccessLog

    now = now or timezone.now()
    cooloff = getattr(settings, "AXES_COOLOFF_TIME", None)
    if isinstance(cooloff, int | float):
        cooloff = datetime.timedelta(hours=cooloff)
    if not isinstance(cooloff, datetime.timedelta):
        cooloff = datetime.timedelta(hours=1)
    retention = datetime.timedelta(seconds=int(gatehouse_settings.EVENTS_RETENTION))
    deleted = AccessAttempt.objects.filter(attempt_time__lt=now - cooloff).delete()[0]
    for model in (AccessLog, AccessFailureLog):
        deleted += model.objects.filter(attempt_time__lt=now - retention).delete()[0]
    return deleted


def adminlogin_connect() -> None:
    """Connect the receivers (from AppConfig.ready); axes' signal only when axes is installed."""
    from django.apps import apps

    user_login_failed.connect(on_login_failed, dispatch_uid="gatehouse-login-failed")
    if apps.is_installed("axes"):
        from axes.signals import user_locked_out

        user_locked_out.connect(on_locked_out, dispatch_uid="gatehouse-locked-out")
