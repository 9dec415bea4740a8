"""The closing line of a run: what was skipped and why, so a run that skipped
the PostgreSQL, Redis or browser tests says so instead of looking complete."""

from collections import Counter
from collections.abc import Iterable
from typing import Any


def _reason(report: Any) -> str:
    longrepr = report.longrepr
    text = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
    return text.removeprefix("Skipped: ").strip()


def skipped_summary(
    reports: Iterable[Any],
    *,
    deselected: int = 0,
    markexpr: str = "",
    ignored: Iterable[str] = (),
) -> str:
    """``skipped 25: 20 need PostgreSQL (set DATABASE_URL), 5 need Redis (set REDIS_URL)``.

    ``reports`` are pytest's skip reports (expected failures are not skips);
    a module skipped whole counts once. Deselected tests (``-m``) and
    ignored paths (``--ignore``, as ``make test-fast`` leaves out
    tests/system/) are named after the skips.
    """
    reasons = Counter(_reason(r) for r in reports if not hasattr(r, "wasxfail"))
    total = sum(reasons.values())
    parts = []
    for reason, count in reasons.most_common():
        if count > 1 and reason.startswith("needs "):
            reason = "need " + reason.removeprefix("needs ")
        parts.append(f"{count} {reason}")
    line = f"skipped {total}: " + ", ".join(parts) if total else "skipped 0"
    if deselected:
        line += (
            f"; deselected {deselected} (-m {markexpr!r})"
            if markexpr
            else f"; deselected {deselected}"
        )
    for path in ignored:
        line += f"; {path} not run (--ignore)"
    return line
