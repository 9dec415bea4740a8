"""DRF throttle class: the adapter over the gate's steps body, count and judge.

``GatehouseRateThrottle`` is the project default
(``REST_FRAMEWORK["DEFAULT_THROTTLE_CLASSES"]``). A view opts in with
``rate_limit_group = "<group>"`` (challenge, session, refresh, lookup,
create); views without it are not limited. DRF runs throttles after
authentication and permissions, so this is where the gate counts: the
view's plan parses the body (``gate_plan``), then every limit of the request
(per IP, key, session and the plan's own), its session's revocation state,
the block-list version and a DPoP proof's jti go in one round trip, and
the gate judges what it read. ``allow_request`` answers the limits (False:
429, ``wait()`` says how long); RateLimit headers go on the view's
``headers`` so DRF's own exception handler sends them too.

Where it departs from DRF's contract, and why: a bad body (400), a
revoked session or a replayed proof (401) and a block learned in the round
trip (403) are raised here, since this is where they are known.
"""

from typing import Any

from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from protection.http.gate import gate_count


class GatehouseRateThrottle(BaseThrottle):
    """Atomic, multi-window limits per API key, session, client IP and identifier."""

    def __init__(self) -> None:
        self.retry_after: float | None = None

    def allow_request(self, request: Request, view: Any) -> bool:
        if not getattr(view, "rate_limit_group", None):
            return True
        throttled = gate_count(request, view)
        if throttled is None:
            return True
        self.retry_after = throttled.wait
        headers = getattr(view, "headers", None)
        if isinstance(headers, dict):
            headers.update(throttled.headers)
        return False

    def wait(self) -> float | None:
        return self.retry_after
