"""``GET /metrics``: Prometheus text for clients in ``METRICS_NETWORKS`` only.

The client address is resolved like everywhere else (``protection.base.clientip``),
so behind a trusted reverse proxy an outside client is refused even though the
proxy itself sits in a private range; as on every probe view
(``protection.http.probes``), a scraper that connects directly (a trusted
network's peer without ``X-Forwarded-For``) is itself, and any Host is
answered. Blocks active are counted here, at scrape time, with one grouped
query, and the network-origin data's age is
read with one more.
"""

import logging
import math
from collections.abc import Iterator

from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import GaugeMetricFamily

from protection.base.clientip import ip_in_networks
from protection.blocks.models import BlockedClient
from protection.conf import gatehouse_settings
from protection.core.metrics import metrics_registry
from protection.errors import problem_response
from protection.http.probes import probe, probe_client_ip
from protection.netintel.selectors import netintel_status

logger = logging.getLogger("gatehouse.metrics")


class BlocksActiveCollector:
    """``gatehouse_blocks_active{kind}``: blocks in force now, read from the database."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "gatehouse_blocks_active", "Blocks in force now, by kind.", labels=["kind"]
        )
        now = timezone.now()
        try:
            counts = dict(
                BlockedClient.objects.filter(lifted_at__isnull=True)
                .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
                .values_list("kind")
                .annotate(n=Count("id"))
                .order_by()
            )
        except Exception:  # a scrape during a database outage still shows the counters
            logger.warning("Could not count active blocks", exc_info=True)
            return
        for kind in BlockedClient.Kind.values:
            family.add_metric([kind], counts.get(kind, 0))
        yield family


class NetIntelCollector:
    """``gatehouse_netintel_age_seconds`` and ``gatehouse_netintel_ranges{kind}``:
    the current network-origin dataset as the database has it, so every
    worker answers the same (+Inf age while none is loaded)."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            status = netintel_status()
        except Exception:  # a scrape during a database outage still shows the counters
            logger.warning("Could not read the network-origin status", exc_info=True)
            return
        yield GaugeMetricFamily(
            "gatehouse_netintel_age_seconds",
            "Seconds since netintel_update loaded the current network-origin data "
            "(+Inf: none loaded). Older than NETINTEL_MAX_AGE, it is not used.",
            value=math.inf if status.age_seconds is None else status.age_seconds,
        )
        ranges = GaugeMetricFamily(
            "gatehouse_netintel_ranges",
            "Ranges in the current network-origin dataset, by kind (asn, class).",
            labels=["kind"],
        )
        dataset = status.dataset
        ranges.add_metric(["asn"], dataset.asn_ranges if dataset else 0)
        ranges.add_metric(["class"], dataset.class_ranges if dataset else 0)
        yield ranges


@probe
def metrics_view(request: HttpRequest) -> HttpResponse:
    """Prometheus text for a client in ``METRICS_NETWORKS``; any Host (a probe view)."""
    if request.method not in ("GET", "HEAD"):
        return problem_response("method_not_allowed", headers={"Allow": "GET, HEAD"})
    if not ip_in_networks(probe_client_ip(request), gatehouse_settings.METRICS_NETWORKS):
        return problem_response("forbidden", detail="Metrics are not served to this address.")
    body = generate_latest(metrics_registry(BlocksActiveCollector(), NetIntelCollector()))
    return HttpResponse(body, content_type=CONTENT_TYPE_LATEST)
