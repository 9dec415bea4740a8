"""What this process remembers between requests so that a flood costs less:

- ``over_budget``: addresses seen over their per-IP budget; the gate's
  ``over_budget`` step reads it in the middleware, before any database work,
  and the gate remembers a refusal when its round trip reads one;
- ``revoked_sessions``: sessions seen revoked; the ``token`` step refuses
  their tokens before they reach the round trip (and a shared budget).
"""

import time

from protection.base.processstate import process_state_register


class OverBudget:
    """Client buckets this process saw refused, until their window ends (bounded).

    A request from one of them is refused at once, before authentication and
    without reading the counters (they only grow until the window ends): an
    address that spends its budget on well-formed but unknown keys must not
    cost a key lookup in the database per request. Its hit is still counted,
    on the way out.
    """

    def __init__(self) -> None:
        self.until: dict[tuple[str, str], float] = {}

    def forget(self) -> None:
        self.until = {}

    def seconds_left(self, group: str, ident: str) -> int | None:
        """Seconds until this bucket's refusing window ends, or None if it is not known."""
        left = self.until.get((group, ident), 0.0) - time.monotonic()
        return max(1, int(left)) if left > 0 else None

    def remember(self, group: str, ident: str, seconds: float) -> None:
        now = time.monotonic()
        if len(self.until) > 10_000:
            self.until = {k: t for k, t in self.until.items() if t > now}
        self.until[(group, ident)] = now + seconds


over_budget = OverBudget()
process_state_register("over-budget memo", over_budget.forget)


class RevokedSessions:
    """Sessions this process learned were revoked, until they expire (bounded).

    A revoked token verifies offline; without this, each of its requests
    would reach the round trip and spend the key-wide budget before its 401
    (one proof of work, then as many requests as its addresses' budgets
    allow). Revocation is final, so the memo is never wrong.
    """

    def __init__(self) -> None:
        self.until: dict[object, float] = {}

    def forget(self) -> None:
        self.until = {}

    def known(self, session_id: object) -> bool:
        return self.until.get(session_id, 0.0) > time.time()

    def remember(self, session_id: object, expires_at: float) -> None:
        now = time.time()
        if len(self.until) > 10_000:
            self.until = {k: t for k, t in self.until.items() if t > now}
        self.until[session_id] = expires_at


revoked_sessions = RevokedSessions()
process_state_register("revoked sessions memo", revoked_sessions.forget)
