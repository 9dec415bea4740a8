"""The over-budget memo: addresses this process saw over their per-IP budget.

The gate's ``over_budget`` step reads it in the middleware, before any
database work; the gate remembers a refusal when its round trip reads one.
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
process_state_register("over-budget memo", over_budget.until.clear)


over_budget = OverBudget()
process_state_register("over-budget memo", over_budget.until.clear)
