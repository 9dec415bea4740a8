"""System checks of the network-origin data (ids protection.W120, W121).

- protection.W120 (deploy check): no dataset loaded yet: every client is
  "unknown", so network blocks and the network policy never apply. Run
  ``manage.py netintel_update`` (and schedule it).
- protection.W121: the current dataset is older than ``NETINTEL_MAX_AGE``:
  it is not used (clients are "unknown") until an update succeeds.

Read from the database; skipped while its tables do not exist yet.
"""

import logging
from typing import Any

from django.core import checks

from protection.base.durations import format_duration
from protection.conf import gatehouse_settings
from protection.netintel.selectors import netintel_status

logger = logging.getLogger("gatehouse.checks")


def _status() -> Any:
    try:
        return netintel_status()
    except Exception:  # no tables yet (before migrate), no database, or no access in tests
        logger.debug("network-origin data not checked", exc_info=True)
        return None


@checks.register(checks.Tags.database, deploy=True)
def check_netintel_loaded(app_configs: Any, **kwargs: Any) -> list[checks.CheckMessage]:
    status = _status()
    if status is None or status.loaded:
        return []
    return [
        checks.Warning(
            "No network-origin data is loaded: every client's network is unknown, so "
            "blocks by AS number, country or network class and the network policy never apply.",
            hint="Run `manage.py netintel_update` (or `--from DIR` offline) and schedule it "
            "daily; see docs/netintel.md.",
            id="protection.W120",
        )
    ]


@checks.register(checks.Tags.database)
def check_netintel_fresh(app_configs: Any, **kwargs: Any) -> list[checks.CheckMessage]:
    status = _status()
    if status is None or not status.loaded:
        return []
    max_age = float(gatehouse_settings.NETINTEL_MAX_AGE)
    if status.age_seconds <= max_age:
        return []
    return [
        checks.Warning(
            f"The network-origin data is {format_duration(status.age_seconds)} old, older "
            f"than NETINTEL_MAX_AGE ({format_duration(max_age)}): it is not used and every "
            "client's network is unknown.",
            hint="Run `manage.py netintel_update` and check its cron job.",
            id="protection.W121",
        )
    ]
