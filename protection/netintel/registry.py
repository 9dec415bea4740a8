"""This process's copy of the current dataset, and ``netintel_classify``.

``registry`` is a ``VersionedRegistry`` (``protection.core.versions``): the
version is the current dataset's id, published under
``NETINTEL_VERSION_CACHE_KEY`` by ``netintel_update``. The gate reads that
key in the request's one cache round trip and passes the value to
``registry.observe``; without a shared cache the database is asked at most
every ``NETINTEL_DB_CHECK_INTERVAL`` seconds. While one thread reloads
(about a second for a full dataset), the others keep classifying with the
previous copy.

No dataset yet, or one older than ``NETINTEL_MAX_AGE``: every address is
``unknown`` (decisions fail open) and a ``netintel_stale`` alert is
recorded, at most once per process per hour.
"""

import logging
import math
import time
from typing import Any

from protection.base.processstate import process_state_register
from protection.conf import DEFAULTS, gatehouse_settings
from protection.core.events import event_record
from protection.core.versions import VersionedRegistry
from protection.netintel.compiled import NetIntelData
from protection.netintel.loading import dataset_load
from protection.netintel.models import NetIntelDataset
from protection.netintel.origin import UNKNOWN_ORIGIN, NetworkOrigin

logger = logging.getLogger("gatehouse.netintel")

NETINTEL_VERSION_CACHE_KEY = "gh:netintel:version"
# With a shared cache, the database is still asked this often (seconds) in
# case a published version was lost.
DB_RECHECK_WITH_CACHE = 300.0
STALE_ALERT_INTERVAL = 3600.0


def netintel_current_id() -> int:
    """The current dataset's id in the database (0: none loaded yet)."""
    return NetIntelDataset.objects.order_by("-id").values_list("id", flat=True).first() or 0


class NetIntelRegistry(VersionedRegistry[NetIntelData]):
    cache_key = NETINTEL_VERSION_CACHE_KEY
    name = "network-origin data"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # NETINTEL_MAX_AGE as of the last version check (every few seconds):
        # classification reads no setting.
        self.max_data_age = float(DEFAULTS["NETINTEL_MAX_AGE"])

    def checked(self) -> None:
        self.max_data_age = float(gatehouse_settings.NETINTEL_MAX_AGE)

    def check_interval(self) -> float:
        return float(gatehouse_settings.NETINTEL_VERSION_CHECK_INTERVAL)

    def db_check_interval(self) -> float:
        return float(gatehouse_settings.NETINTEL_DB_CHECK_INTERVAL)

    def max_age(self) -> float:
        return DB_RECHECK_WITH_CACHE

    def stored_version(self) -> int:
        return netintel_current_id()

    def load(self, version: int) -> NetIntelData:
        started = time.perf_counter()
        data = dataset_load(version)
        logger.info(
            "Loaded network-origin dataset %s in %.2f s (%.1f MB)",
            data.dataset_id,
            time.perf_counter() - started,
            data.nbytes() / 1e6,
        )
        return data

    def empty(self) -> NetIntelData:
        return NetIntelData()

    def version_of(self, data: NetIntelData, requested: int) -> int:
        return data.dataset_id


registry = NetIntelRegistry()
process_state_register("network-origin data", registry.reset)


class _StaleAlert:
    """At most one ``netintel_stale`` alert per process per hour."""

    def __init__(self) -> None:
        self.last = -math.inf

    def due(self, now: float) -> bool:
        if now - self.last < STALE_ALERT_INTERVAL:
            return False
        self.last = now
        return True

    def reset(self) -> None:
        self.last = -math.inf


stale_alert = _StaleAlert()
process_state_register("network-origin stale alert", stale_alert.reset)


def netintel_age(data: NetIntelData, *, now: float | None = None) -> float:
    """Seconds since ``data`` was loaded by ``netintel_update`` (infinite: no data)."""
    if data.empty:
        return math.inf
    return max(0.0, (time.time() if now is None else now) - data.loaded_at)


def netintel_classify(ip: str, *, now: float | None = None) -> NetworkOrigin:
    """Where ``ip`` comes from: AS number and organisation, country, network class.

    In-process (no query, no cache call; see the module docstring for how
    the data stays current). ``unknown`` when there is no data, the data is
    older than ``NETINTEL_MAX_AGE``, or ``ip`` is not an address.
    """
    data = registry.current()
    if (time.time() if now is None else now) - data.loaded_at > registry.max_data_age:
        _report_stale(data, netintel_age(data, now=now))
        return UNKNOWN_ORIGIN
    return data.classify(ip)


def _report_stale(data: NetIntelData, age: float) -> None:
    if not stale_alert.due(time.monotonic()):
        return
    try:
        event_record(
            kind="netintel_stale",
            decision="alert",
            reason="netintel_missing" if data.empty else "netintel_stale",
            details={
                "dataset": data.dataset_id or None,
                "age_seconds": None if math.isinf(age) else int(age),
                "max_age_seconds": int(registry.max_data_age),
            },
        )
    except Exception:  # classification fails open whatever happens to the alert
        logger.warning("Could not record the stale network-origin alert", exc_info=True)
