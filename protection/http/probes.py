"""The probe views: health, liveness, readiness and ``/metrics``.

Orchestrators, load balancers and scrapers call these from inside the
network, by the instance's own address, so two rules differ from the API's:

- **any Host**: a Kubernetes probe or a Prometheus scrape sends the pod's
  address (``Host: 10.0.3.21:8000``), which is in no ``ALLOWED_HOSTS``.
  These views build no URL from the Host, so it is not validated for them
  (``AllowedHostMiddleware`` and Django's own ``get_host``);
- **a direct peer is itself**: under trusted proxies, a peer in
  ``TRUSTED_PROXY_NETWORKS`` that sends no ``X-Forwarded-For`` is the
  client (``client_ip_resolve(peer_when_unforwarded=True)``), not the
  unknown-client bucket: the scraper's own address is then checked against
  ``METRICS_NETWORKS``.

A view is a probe view when it (or its class) has ``probe_view = True``.
"""

from collections.abc import Callable
from typing import Any, TypeVar

from django.http import HttpRequest
from django.urls import Resolver404, resolve

from protection.base.clientip import client_ip_resolve

ATTRIBUTE = "probe_view"
View = TypeVar("View", bound=Callable[..., Any])


def probe(view: View) -> View:
    """Mark a view function as a probe view (class-based views set ``probe_view = True``)."""
    view.__dict__[ATTRIBUTE] = True
    return view


def view_is_probe(view: Any) -> bool:
    """Whether a view function (or the class it was made from) is a probe view."""
    view_class = getattr(view, "cls", None) or getattr(view, "view_class", None)
    return bool(getattr(view, ATTRIBUTE, False) or getattr(view_class, ATTRIBUTE, False))


def request_is_probe(request: HttpRequest) -> bool:
    """Whether ``request`` is routed to a probe view (resolved from its path)."""
    match = getattr(request, "resolver_match", None)
    if match is None:
        try:
            match = resolve(request.path_info, getattr(request, "urlconf", None))
        except Resolver404:
            return False
    return view_is_probe(match.func)


def probe_host_accept(request: HttpRequest) -> None:
    """Let ``request.get_host()`` return the Host as sent, unvalidated (probe views only)."""
    host = request.META.get("HTTP_HOST") or request.META.get("SERVER_NAME", "")
    vars(request)["get_host"] = lambda: host


def probe_client_ip(request: HttpRequest) -> str:
    """The client of a probe request: a trusted peer without X-Forwarded-For is itself."""
    return client_ip_resolve(
        remote_addr=request.META.get("REMOTE_ADDR", ""),
        forwarded_for=request.META.get("HTTP_X_FORWARDED_FOR", ""),
        peer_when_unforwarded=True,
    )
