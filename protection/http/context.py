"""What the HTTP edge learned about one request: one typed object, one owner.

``request_context(request)`` returns the request's ``RequestContext``,
made on first use (the client IP resolved once, from ``REMOTE_ADDR`` and
trusted proxies only). The middleware, the DRF authentication and throttle
classes and the views read and fill it through this module; nothing else
stores state on the request.

It carries the limits the request must count (``limits``, a plain
``RequestLimits`` value services accept) and the hook that judges what the
request's one cache round trip read: the block-list version (a new block
applies to this very request) and the session's revocation state (the
database answers whenever the cache cannot be trusted).
"""

from dataclasses import dataclass, field
from typing import Any

from protection.base.clientip import client_ip_resolve
from protection.base.exceptions import ProtectionError
from protection.blocks import blocks_check
from protection.blocks.ruleset import VERSION_CACHE_KEY, registry
from protection.core.ratelimit import RequestLimits
from protection.keys import ApiKey
from protection.logcontext import log_context_update
from protection.sessions import SessionClaims, session_state_check, session_state_reads

_ATTRIBUTE = "_gatehouse_context"
BEARER_CHALLENGE = 'Bearer realm="gatehouse"'


@dataclass(frozen=True)
class Caller:
    """What is calling (the API key) and, on session endpoints, who (the session)."""

    api_key: ApiKey
    session: SessionClaims | None = None


@dataclass
class RequestContext:
    client_ip: str
    path: str = ""
    api_key: ApiKey | None = None
    session: SessionClaims | None = None
    limits: RequestLimits = field(default_factory=RequestLimits)
    session_checked: bool = False
    blocked: bool = False  # refused by an IP block before the view
    # Keys the admin created in this request, shown once on its response.
    new_api_keys: list[tuple[ApiKey, str]] = field(default_factory=list)

    def key_known(self, api_key: ApiKey) -> None:
        self.api_key = self.limits.api_key = api_key
        log_context_update(api_key=api_key)

    def watch_blocks(self) -> None:
        """Read the block list's version in the request's next cache round trip
        (a block made since this process loaded the list applies at once)."""
        if VERSION_CACHE_KEY not in self.limits.reads:
            self.limits.reads.append(VERSION_CACHE_KEY)
        self.limits.after_count = self._after_count

    def session_known(self, session: SessionClaims) -> None:
        """Read the session's revocation state (and the block list's version)
        in the request's next cache round trip; without a shared cache the
        database answers."""
        self.session = session
        self.limits.session_id = session.id
        log_context_update(session_id=session.id)
        self.limits.reads = [*session_state_reads(session.id), *self.limits.reads]
        self.watch_blocks()

    def _after_count(self, values: dict[str, bytes | None]) -> None:
        if registry.observe(values.get(VERSION_CACHE_KEY)):
            blocks_check(ip=self.client_ip, api_key=self.api_key, session=self.session)
        if self.session is not None:
            self.session_checked = True
            self._session_state_check(values)

    def session_check_now(self) -> None:
        """Check the session's state if no round trip has done it (the database answers)."""
        if self.session is not None and not self.session_checked:
            self.session_checked = True
            self.limits.reads, self.limits.after_count = [], None
            self._session_state_check(None)

    def _session_state_check(self, values: dict[str, bytes | None] | None) -> None:
        assert self.session is not None
        try:
            session_state_check(claims=self.session, values=values)
        except ProtectionError as error:
            error.headers.setdefault("WWW-Authenticate", BEARER_CHALLENGE)
            raise


def request_context(request: Any) -> RequestContext:
    """The request's context (a DRF ``Request`` or Django ``HttpRequest``)."""
    http_request = getattr(request, "_request", request)
    context = http_request.__dict__.get(_ATTRIBUTE)
    if context is None:
        meta = http_request.META
        context = RequestContext(
            client_ip=client_ip_resolve(
                remote_addr=meta.get("REMOTE_ADDR", ""),
                forwarded_for=meta.get("HTTP_X_FORWARDED_FOR", ""),
            ),
            path=http_request.path_info,
        )
        setattr(http_request, _ATTRIBUTE, context)
    return context


def client_ip(request: Any) -> str:
    """The client's IP address for this request (resolved once)."""
    return request_context(request).client_ip
