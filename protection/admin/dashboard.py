"""The security dashboard in the admin: the last 24 hours at a glance.

Events per hour by kind (a stacked bar chart rendered server-side as inline
SVG: no script, no CDN), top offending IPs and API keys (by deny events),
and the number of active blocks. Mounted at ``admin/protection/dashboard/``
(see config/urls.py) behind ``admin.site.admin_view`` (staff only).
"""

import datetime
from typing import Any

from django.contrib import admin
from django.db.models import Q, Sum
from django.db.models.functions import TruncHour
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone

from protection.blocks import BlockedClient
from protection.events import SecurityEvent

HOURS = 24
MAX_SERIES = 7  # kinds drawn separately; the rest is "other"
PALETTE = ("#417690", "#e07b39", "#5aa469", "#c94c4c", "#8e6bb5", "#d4a72c", "#4bb4c4", "#999999")
CHART_WIDTH, CHART_HEIGHT, CHART_TOP = 720, 220, 10


def events_per_hour(*, now: datetime.datetime) -> dict[str, Any]:
    """Return hours, the kinds drawn and counts[hour_index][kind] for the last 24 h."""
    end = now.replace(minute=0, second=0, microsecond=0) + datetime.timedelta(hours=1)
    start = end - datetime.timedelta(hours=HOURS)
    rows = (
        SecurityEvent.objects.filter(created_at__gte=start, created_at__lt=end)
        .annotate(hour=TruncHour("created_at"))
        .values("hour", "kind")
        .annotate(n=Sum("count"))
    )
    totals: dict[str, int] = {}
    cells: list[tuple[int, str, int]] = []
    for row in rows:
        index = int((row["hour"] - start).total_seconds() // 3600)
        if 0 <= index < HOURS:
            cells.append((index, row["kind"], row["n"]))
            totals[row["kind"]] = totals.get(row["kind"], 0) + row["n"]
    ranked = sorted(totals, key=lambda kind: (-totals[kind], kind))
    kinds = ranked[:MAX_SERIES] + (["other"] if len(ranked) > MAX_SERIES else [])
    counts = [dict.fromkeys(kinds, 0) for _ in range(HOURS)]
    for index, kind, n in cells:
        counts[index][kind if kind in kinds else "other"] += n
    hours = [start + datetime.timedelta(hours=i) for i in range(HOURS)]
    return {"hours": hours, "kinds": kinds, "counts": counts, "totals": totals}


def chart_bars(series: dict[str, Any]) -> dict[str, Any]:
    """Lay the stacked bars out as SVG rectangles (the template only draws them)."""
    colors = {kind: PALETTE[i % len(PALETTE)] for i, kind in enumerate(series["kinds"])}
    peak = max((sum(hour.values()) for hour in series["counts"]), default=0) or 1
    slot = CHART_WIDTH / HOURS
    rects = []
    for index, (hour, counts) in enumerate(zip(series["hours"], series["counts"], strict=True)):
        y = CHART_TOP + CHART_HEIGHT
        for kind in series["kinds"]:
            n = counts[kind]
            if not n:
                continue
            height = CHART_HEIGHT * n / peak
            y -= height
            rects.append(
                {
                    "x": round(index * slot + 2, 1),
                    "y": round(y, 1),
                    "width": round(slot - 4, 1),
                    "height": round(height, 1),
                    "color": colors[kind],
                    "title": f"{hour:%H}:00 {kind}: {n}",
                }
            )
    labels = [
        {"x": round(i * slot + slot / 2, 1), "text": f"{hour:%H}"}
        for i, hour in enumerate(series["hours"])
        if i % 3 == 0
    ]
    legend = [{"kind": kind, "color": colors[kind]} for kind in series["kinds"]]
    return {"rects": rects, "labels": labels, "legend": legend, "peak": peak}


def top_offenders(*, since: datetime.datetime, limit: int = 10) -> dict[str, list[dict]]:
    denied = SecurityEvent.objects.filter(created_at__gte=since, decision="deny")
    ips = (
        denied.exclude(client_ip__isnull=True)
        .values("client_ip")
        .annotate(n=Sum("count"))
        .order_by("-n", "client_ip")[:limit]
    )
    keys = (
        denied.exclude(api_key__isnull=True)
        .values("api_key__public_id", "api_key__name")
        .annotate(n=Sum("count"))
        .order_by("-n", "api_key__public_id")[:limit]
    )
    return {"ips": list(ips), "keys": list(keys)}


def active_blocks_count(*, now: datetime.datetime) -> int:
    return (
        BlockedClient.objects.filter(lifted_at__isnull=True)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        .count()
    )


def dashboard_view(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    series = events_per_hour(now=now)
    context = {
        **admin.site.each_context(request),
        "title": "Security dashboard",
        "chart": chart_bars(series),
        "chart_width": CHART_WIDTH,
        "chart_height": CHART_HEIGHT + CHART_TOP + 20,
        "axis_y": CHART_TOP + CHART_HEIGHT,
        "event_total": sum(series["totals"].values()),
        "totals": sorted(series["totals"].items(), key=lambda item: (-item[1], item[0])),
        "offenders": top_offenders(since=now - datetime.timedelta(hours=HOURS)),
        "active_blocks": active_blocks_count(now=now),
    }
    return TemplateResponse(request, "admin/protection/dashboard.html", context)


dashboard = admin.site.admin_view(dashboard_view)
