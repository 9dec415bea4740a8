"""The lookup bench's figures: what each row measured, and the printed table.

A ``Row`` adds up its load runs (one per round) and the CPU its processes
spent; ``report`` prints one line per row, then the ratios of ``RATIOS``
that the rows present allow, each against its target.
"""

import os
import statistics
from dataclasses import dataclass, field

from bench.load import Load
from bench.lookup_rows import DENIALS

CPU_GROUPS = ("server", "postgres", "redis", "load")
# (numerator row, denominator row, target on the r/s ratio or None): a ratio
# is printed when both rows ran. "@before" rows are served by --baseline-dir.
RATIOS: tuple[tuple[str, str, tuple[str, float] | None], ...] = (
    # Issue 17: a flood of refusals costs us less than it costs the sender.
    *((denial, "protected", (">=", 1.5)) for denial in DENIALS),
    ("dpop", "protected", (">=", 0.9)),
    # Issue 10.
    ("protected", "plain", (">=", 0.6)),
    ("protected", "stack", (">", 1.0)),
    ("protected", "floor", (">=", 0.85)),
    # Issue 17: the protected lookup within 5 % of the commit before the change.
    ("protected", "protected@before", (">=", 0.95)),
    # The same denial ratios on the commit before, for comparison.
    *((f"{denial}@before", "protected@before", None) for denial in DENIALS),
)


@dataclass
class Row:
    name: str
    loads: list[Load] = field(default_factory=list)
    cpu: dict[str, float] = field(default_factory=lambda: dict.fromkeys(CPU_GROUPS, 0.0))
    # CPU seconds the rest of the machine used while this row ran, and the
    # wall-clock seconds it ran: how busy other people kept the machine.
    elsewhere: float = 0.0
    wall: float = 0.0
    # A denial row: every answer must be a refusal (status >= 400), not a 200.
    refused: bool = False
    # What the one request checked after each run was answered, when wrong.
    problems: list[str] = field(default_factory=list)

    def busy_elsewhere(self) -> float:
        """Share of the machine's CPUs used by other work while this row ran."""
        return self.elsewhere / (self.wall * (os.cpu_count() or 1)) if self.wall else 0.0

    @property
    def median_rps(self) -> float:
        return statistics.median(load.rps for load in self.loads)

    @property
    def non_2xx(self) -> int:
        return sum(load.non_2xx for load in self.loads)

    @property
    def unexpected(self) -> int:
        """Answers of the wrong kind: non-2xx for a served row, 2xx for a denial row."""
        if self.refused:
            return sum(load.requests - load.non_2xx for load in self.loads)
        return self.non_2xx

    @property
    def socket_errors(self) -> int:
        return sum(load.socket_errors for load in self.loads)

    @property
    def values_reused(self) -> int:
        """Requests that repeated a per-request header value (a DPoP proof): replays."""
        return sum(load.values_reused for load in self.loads)

    def cpu_ms_per_request(self) -> dict[str, float]:
        requests = max(1, sum(load.requests for load in self.loads))
        return {group: seconds / requests * 1e3 for group, seconds in self.cpu.items()}

    def failed(self) -> bool:
        return bool(self.unexpected or self.socket_errors or self.values_reused or self.problems)


def _present(rows: dict[str, Row]) -> list[tuple[str, str, tuple[str, float] | None]]:
    return [
        (top, bottom, target)
        for top, bottom, target in RATIOS
        if top in rows and bottom in rows and rows[top].loads and rows[bottom].loads
    ]


def ratios(rows: dict[str, Row]) -> dict[str, float]:
    """``top/bottom`` of the median requests per second, for the rows present."""
    return {
        f"{top}/{bottom}": rows[top].median_rps / rows[bottom].median_rps
        for top, bottom, _target in _present(rows)
        if rows[bottom].median_rps
    }


def cpu_ratios(rows: dict[str, Row]) -> dict[str, float]:
    """The same ratios from CPU per request (bottom's / top's): what the rows
    would reach on a machine of their own, where CPU sets throughput. Other
    load on a shared machine moves requests per second far more than this."""
    total = {name: sum(row.cpu_ms_per_request().values()) for name, row in rows.items()}
    return {
        f"{top}/{bottom}": total[bottom] / total[top]
        for top, bottom, _target in _present(rows)
        if total[top]
    }


def rows_table(rows: dict[str, Row], *, tool: str) -> list[str]:
    """One line per row: median and per-round requests/s, errors, CPU per request."""
    width = max([11, *(len(name) + 2 for name in rows)])
    lines = [
        f"{'row':<{width}}{'median r/s':>11}  {'rounds r/s':<22}{'unexpected':>11}{'sock err':>9}"
        f"{'busy elsewhere':>16}   CPU ms/request: total (server, postgres, redis, {tool})"
    ]
    for row in rows.values():
        cpu = row.cpu_ms_per_request()
        rounds = " ".join(f"{load.rps:.0f}" for load in row.loads)
        expected = "refused" if row.refused else "200"
        mark = f"  <- errors: not all {expected}" if row.failed() else ""
        lines.append(
            f"{row.name:<{width}}{row.median_rps:>11.0f}  {rounds:<22}{row.unexpected:>11}"
            f"{row.socket_errors:>9}{row.busy_elsewhere():>15.0%}    {sum(cpu.values()):.2f} ("
            + ", ".join(f"{cpu[group]:.2f}" for group in CPU_GROUPS)
            + f"){mark}"
        )
    return lines


def report(rows: dict[str, Row], *, tool: str) -> str:
    """The table (``rows_table``), then the ratios against their targets."""
    lines = rows_table(rows, tool=tool)
    by_rps, by_cpu = ratios(rows), cpu_ratios(rows)
    width = max([17, *(len(name) + 2 for name in by_rps)])
    lines.append("")
    lines.append(f"{'ratio':<{width}}{'r/s':>6}{'CPU':>7}   target (on r/s)")
    for top, bottom, target in _present(rows):
        name = f"{top}/{bottom}"
        if name not in by_rps:
            continue
        value = by_rps[name]
        line = f"{name:<{width}}{value:>6.2f}{by_cpu.get(name, 0.0):>7.2f}   "
        if target is None:
            lines.append(line + "(the commit before, for comparison)")
            continue
        operator, goal = target
        met = value >= goal if operator == ">=" else value > goal
        lines.append(line + f"{operator} {goal:.2f}: " + ("met" if met else "NOT met"))
    lines.append(
        "(CPU: the ratio of CPU per request, bottom's / top's: steadier on a shared machine)"
    )
    return "\n".join(lines)
