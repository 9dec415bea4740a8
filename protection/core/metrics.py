"""Prometheus metrics of the protection app (prometheus-client), all named ``gatehouse_…``.

Recorders are plain functions the services call (``metrics_difficulty_issued``,
``metrics_cache_fallback``, ``metrics_timer``…) plus ``metrics_event_recorded``,
a receiver of ``protection.core.events.event_recorded`` that turns every security
event into the decision and 429 counters: the audit log does not know
metrics exist.

Under gunicorn, set ``PROMETHEUS_MULTIPROC_DIR`` to an empty directory
writable by the workers (wiped at each deploy): every worker then writes its
values there and a scrape served by any worker adds them all up (see
``metrics_registry`` and docs/metrics-and-logs.md for the ``child_exit``
hook). A process's files are folded into archives when it exits
(``protection.core.metricsfiles``), so they do not pile up. Without the
variable, one process counts in memory.

The edge serves the text (``protection.http.metrics_view``); blocks active are
counted there at scrape time. No label ever holds a client value (IP, key,
session): label values are event kinds, reasons, groups and dimensions,
all from code and settings, so the number of series stays bounded.
"""

import atexit
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram, multiprocess

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def metrics_directory_check() -> None:
    """Refuse a ``PROMETHEUS_MULTIPROC_DIR`` that is not a directory, saying what to do.

    prometheus-client would raise a bare FileNotFoundError from the first
    metric this module defines, in every process (every manage.py command).
    """
    directory = os.environ.get(MULTIPROC_ENV, "")
    if directory and not os.path.isdir(directory):
        raise ImproperlyConfigured(
            f"{MULTIPROC_ENV}={directory!r} is not a directory. Create it (empty, writable "
            "by every worker; `gunicorn -c config/gunicorn.conf.py` creates and empties it "
            f"at start), or unset {MULTIPROC_ENV} for a single process."
        )


metrics_directory_check()
VERIFICATION_KINDS = ("key", "token", "session", "challenge")
_LABEL_MAX = 64

DECISIONS = Counter(
    "gatehouse_decisions",
    "Security events recorded, by event kind, decision (allow, deny, alert) and reason.",
    ["kind", "decision", "reason"],
)
RATE_LIMITED = Counter(
    "gatehouse_rate_limited",
    "Requests refused with 429, by endpoint group and the dimension whose limit was hit "
    "(a refusal over two dimensions counts once in each).",
    ["group", "dimension"],
)
CACHE_FALLBACK = Gauge(
    "gatehouse_cache_fallback",
    "1 while a process skips the shared cache (Redis) after a failure: rate limits are "
    "then counted per process (or refused, RATE_LIMIT_CACHE_FAILURE=closed).",
    multiprocess_mode="livemax",
)
CACHE_FAILURES = Counter(
    "gatehouse_cache_failures",
    "Shared-cache (Redis) failures seen by the rate limiter.",
)
DATABASE_READS = Counter(
    "gatehouse_database_reads",
    "Stale-tolerant reads (the lookup's), by where they were answered: replica or primary.",
    ["target"],
)
DIFFICULTY_ISSUED = Histogram(
    "gatehouse_pow_difficulty_issued",
    "Proof-of-work difficulty (ALTCHA maxNumber) of the challenges issued.",
    buckets=(50_000, 100_000, 200_000, 400_000, 800_000, 1_600_000, 3_200_000, 6_400_000),
)
NETWORK_DECISIONS = Counter(
    "gatehouse_network_decisions",
    "Security events of requests whose network origin was classified, by event kind, "
    "decision and network class (tor, proxy, vpn, hosting, none); never by address or AS.",
    ["kind", "decision", "network_class"],
)
VERIFICATION_SECONDS = Histogram(
    "gatehouse_verification_seconds",
    "Time spent verifying an API key, a session token, a session or a challenge solution.",
    ["kind"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)

LADDER_TIERS = ("low", "elevated", "high", "critical")
LADDER_OUTCOMES = ("issued", "refused")
CHALLENGES = Counter(
    "gatehouse_challenges",
    "Challenge requests the challenge ladder judged, by risk tier and outcome "
    "(issued, refused: a 4xx or 5xx answer, risk_too_high included).",
    ["tier", "outcome"],
)
SESSION_STARTS = Counter(
    "gatehouse_session_starts",
    "Session starts the challenge ladder judged, by risk tier and outcome (issued, "
    "refused: missing or failed evidence, risk_too_high, any 4xx or 5xx answer).",
    ["tier", "outcome"],
)


HTTP_REQUESTS = Counter(
    "gatehouse_http_requests",
    "HTTP requests answered, by method, route (the URL pattern, never the raw path) and status.",
    ["method", "route", "status"],
)
HTTP_DURATION = Histogram(
    "gatehouse_http_request_duration_seconds",
    "Time from the first middleware to the response, by method and route.",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
# Any other method (a client may send anything) is counted as "other".
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED_ROUTE = "unmatched"


def _label(value: Any) -> str:
    return str(value or "")[:_LABEL_MAX]


def _network_class_label(value: Any) -> str:
    """A class name as the label ("none" for no class); anything else is "other",
    so a malformed detail can never add series."""
    if not value:
        return "none"
    if isinstance(value, str) and value.isascii() and value.isalpha() and len(value) <= 16:
        return value.lower()
    return "other"


def metrics_event_recorded(sender: Any = None, *, event: Any, **kwargs: Any) -> None:
    """Receiver of ``event_recorded``: count the decision, and the 429 if it is one.

    Events carrying the request's network origin (``details["network"]``,
    ``{"asn": …, "country": …, "class": …}``) are counted by network class too.

    What a rule or limit in observe mode would have denied is counted with
    decision ``dry_run`` (it let the request through), never as a 429.
    """
    details = event.details if isinstance(event.details, dict) else {}
    decision = "dry_run" if details.get("dry_run") else event.decision
    DECISIONS.labels(_label(event.kind), _label(decision), _label(event.reason)).inc()
    network = details.get("network")
    if isinstance(network, dict):
        NETWORK_DECISIONS.labels(
            _label(event.kind), _label(decision), _network_class_label(network.get("class"))
        ).inc()
    if event.kind == "rate_limited" and decision != "dry_run":
        group = _label(details.get("group"))
        dimensions = details.get("dimensions")
        for dimension in dimensions if isinstance(dimensions, list) else []:
            RATE_LIMITED.labels(group, _label(dimension)).inc()


def metrics_ladder(*, stage: str, tier: str, issued: bool) -> None:
    """Count one challenge request (``stage`` "challenge") or session start
    ("session") the ladder judged at ``tier``, issued or refused."""
    counter = {"challenge": CHALLENGES, "session": SESSION_STARTS}.get(stage)
    if counter is None:
        raise ValueError(f"unknown ladder stage {stage!r}")
    label = tier if tier in LADDER_TIERS else "other"
    counter.labels(label, LADDER_OUTCOMES[0] if issued else LADDER_OUTCOMES[1]).inc()


def metrics_http_request(*, method: str, route: str, status: int, seconds: float) -> None:
    """Count one answered request. ``route`` is its URL pattern ("" when none matched)."""
    method_label = method if method in HTTP_METHODS else "other"
    route_label = _label(route) or UNMATCHED_ROUTE
    HTTP_REQUESTS.labels(method_label, route_label, str(int(status))).inc()
    HTTP_DURATION.labels(method_label, route_label).observe(seconds)


def metrics_cache_fallback(*, active: bool) -> None:
    """Say whether this process is skipping the shared cache right now."""
    if active:
        CACHE_FAILURES.inc()
    CACHE_FALLBACK.set(1 if active else 0)


def metrics_database_read(target: str) -> None:
    """Count one stale-tolerant read answered by ``target`` (``replica`` or ``primary``)."""
    DATABASE_READS.labels(target).inc()


def metrics_difficulty_issued(*, max_number: int) -> None:
    """Count one issued proof-of-work challenge of difficulty ``max_number``."""
    DIFFICULTY_ISSUED.observe(max_number)


def metrics_verification_observe(*, kind: str, seconds: float) -> None:
    """Record how long one verification of ``kind`` (key, token, session, challenge) took."""
    if kind not in VERIFICATION_KINDS:
        raise ValueError(f"unknown verification kind {kind!r}")
    VERIFICATION_SECONDS.labels(kind).observe(seconds)


@contextmanager
def metrics_timer(kind: str) -> Iterator[None]:
    """Time the block as a verification of ``kind``, whether it passes or raises."""
    started = time.perf_counter()
    try:
        yield
    finally:
        metrics_verification_observe(kind=kind, seconds=time.perf_counter() - started)


def _fold_own_files() -> None:
    from protection.core.metricsfiles import metrics_process_exited

    metrics_process_exited(os.getpid())  # the pid at exit: a forked worker folds its own


if os.environ.get(MULTIPROC_ENV):
    # Every process that counted (a worker, a manage.py run) folds its files
    # into the archives when it exits (protection.core.metricsfiles).
    atexit.register(_fold_own_files)


def metrics_multiprocess() -> bool:
    """Whether values are shared between worker processes (``PROMETHEUS_MULTIPROC_DIR`` set)."""
    return bool(os.environ.get(MULTIPROC_ENV))


class _Delegate:
    """Re-exposes another registry's metrics inside a per-scrape registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry

    def collect(self) -> Iterator[Any]:
        yield from self.registry.collect()


def metrics_registry(*extra_collectors: Any) -> CollectorRegistry:
    """Return a registry for one scrape: every process's values, plus ``extra_collectors``.

    Multiprocess mode reads the workers' files (the values of this process's
    own in-memory registry would be partial); otherwise this process's
    default registry (with its process and platform metrics) is used.
    """
    registry = CollectorRegistry(auto_describe=False)
    if metrics_multiprocess():
        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(_Delegate(REGISTRY))
    for collector in extra_collectors:
        registry.register(collector)
    return registry
