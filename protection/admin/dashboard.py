"""The security dashboard in the admin: the last 24 hours at a glance.

Events per hour by kind (a stacked bar chart with a y-axis, rendered
server-side as inline SVG: no script, no CDN), top offending IPs and API keys
(by deny events), where denied requests came from (top AS numbers and
network classes, from the events' ``details["network"]``), the risk tiers
of recent session starts (the challenge ladder's, from ``details["risk"]``),
the number of active blocks, and the phone prefixes blocked now (the
SMS-pumping monitor's or staff's). The app mounts it itself
(``SecurityEventAdmin.get_urls``: ``admin/protection/securityevent/dashboard/``)
for staff who may view security events; no project URL is needed.
"""

import datetime
from typing import Any

from django.db.models import Q, Sum
from django.db.models.fields.json import KT
from django.db.models.functions import TruncHour
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone

from protection.blocks import BlockedClient
from protection.core.events import SecurityEvent
from protection.keys.ladder import TIERS
from protection.netintel.selectors import netintel_as_names

HOURS = 24
MAX_SERIES = 7  # kinds drawn separately; the rest is "other"
PALETTE = ("#417690", "#e07b39", "#5aa469", "#c94c4c", "#8e6bb5", "#d4a72c", "#4bb4c4", "#999999")
CHART_WIDTH, CHART_HEIGHT, CHART_TOP = 720, 220, 24
AXIS_LEFT = 44  # room for the y-axis labels

# What an operator reads instead of the event's machine kind.
KIND_LABELS = {
    "api_key_auth": "API key refused",
    "api_key_lifecycle": "API key changes",
    "token_auth": "Token refused",
    "rate_limited": "Rate limited",
    "blocked": "Blocked requests",
    "challenge_issued": "Challenges issued",
    "challenge_failed": "Proof of work failed",
    "challenge_replayed": "Challenge replayed",
    "recaptcha_failed": "reCAPTCHA failed",
    "recaptcha_unavailable": "reCAPTCHA unavailable",
    "captcha_failed": "CAPTCHA failed",
    "captcha_unavailable": "CAPTCHA unavailable",
    "pat_failed": "Private Access Token refused",
    "risk_refused": "Refused for risk",
    "challenge_ladder": "Ladder dry run",
    "session_issued": "Sessions started",
    "session_refreshed": "Sessions refreshed",
    "session_revoked": "Sessions revoked",
    "refresh_reuse": "Refresh token reused",
    "person_created": "People signed up",
    "person_create_refused": "Sign-ups refused",
    "person_lookup": "Lookups",
    "enumeration_suspected": "Enumeration suspected",
    "key_abuse_suspected": "Key under attack",
    "client_blocked": "Clients blocked",
    "client_unblocked": "Blocks lifted",
    "client_block_changed": "Blocks changed",
    "cache_unavailable": "Cache unavailable",
    "verification_started": "Codes requested",
    "verification_failed": "Wrong or expired codes",
    "sms_pumping_suspected": "SMS pumping suspected",
    "other": "Other",
}


def kind_label(kind: str) -> str:
    """Return the human label of an event kind (a readable fallback for new kinds)."""
    if kind in KIND_LABELS:
        return KIND_LABELS[kind]
    words = kind.replace("api_key", "API key").replace("_", " ")
    return words[:1].upper() + words[1:]


def axis_ticks(peak: int) -> list[int]:
    """Return the y-axis ticks: 0 up to the first round value >= ``peak``, at most 5 ticks."""
    magnitude = 1
    while True:
        for base in (1, 2, 5):
            step = base * magnitude
            if peak <= step * 4:
                top = -(-peak // step) * step
                return list(range(0, top + 1, step))
        magnitude *= 10


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
    """Lay the stacked bars and the axes out in SVG coordinates (the template only draws)."""
    colors = {kind: PALETTE[i % len(PALETTE)] for i, kind in enumerate(series["kinds"])}
    peak = max((sum(hour.values()) for hour in series["counts"]), default=0)
    ticks = axis_ticks(max(peak, 1))
    scale_top = ticks[-1]
    baseline = CHART_TOP + CHART_HEIGHT
    slot = (CHART_WIDTH - AXIS_LEFT) / HOURS
    rects = []
    for index, (hour, counts) in enumerate(zip(series["hours"], series["counts"], strict=True)):
        y = baseline
        for kind in series["kinds"]:
            n = counts[kind]
            if not n:
                continue
            height = CHART_HEIGHT * n / scale_top
            y -= height
            rects.append(
                {
                    "x": round(AXIS_LEFT + index * slot + 2, 1),
                    "y": round(y, 1),
                    "width": round(slot - 4, 1),
                    "height": round(height, 1),
                    "color": colors[kind],
                    "title": f"{hour:%H}:00 {kind_label(kind)} ({kind}): {n}",
                }
            )
    labels = [
        {"x": round(AXIS_LEFT + i * slot + slot / 2, 1), "text": f"{hour:%H}"}
        for i, hour in enumerate(series["hours"])
        if i % 3 == 0
    ]
    y_ticks = [
        {"value": value, "y": round(baseline - CHART_HEIGHT * value / scale_top, 1)}
        for value in ticks
    ]
    legend = [
        {"kind": kind, "label": kind_label(kind), "color": colors[kind]} for kind in series["kinds"]
    ]
    return {
        "rects": rects,
        "labels": labels,
        "y_ticks": y_ticks,
        "legend": legend,
        "peak": peak,
        "axis_left": AXIS_LEFT,
    }


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
        .values("api_key_id", "api_key__public_id", "api_key__name")
        .annotate(n=Sum("count"))
        .order_by("-n", "api_key__public_id")[:limit]
    )
    return {"ips": list(ips), "keys": list(keys)}


def denied_networks(*, since: datetime.datetime, limit: int = 10) -> dict[str, list[dict]]:
    """Top AS numbers and the network classes of deny events since ``since``.

    Read from ``details["network"]`` (``{"asn": …, "country": …, "class": …}``)
    with JSON key lookups that PostgreSQL and SQLite both run; events without
    it (no network-origin data, or not from a request) are left out.
    """
    denied = SecurityEvent.objects.filter(created_at__gte=since, decision="deny")
    asn_rows = (
        denied.filter(details__network__asn__gt=0)  # a number: not null, not missing
        .annotate(asn=KT("details__network__asn"))
        .values("asn")
        .annotate(n=Sum("count"))
        .order_by("-n", "asn")[:limit]
    )
    asns = [{"asn": int(row["asn"]), "n": row["n"]} for row in asn_rows if _digits(row["asn"])]
    names = netintel_as_names(row["asn"] for row in asns)
    for row in asns:
        row["name"] = names.get(row["asn"], "")
    class_rows = (
        denied.filter(details__network__has_key="class")
        .annotate(network_class=KT("details__network__class"))
        .values("network_class")
        .annotate(n=Sum("count"))
        .order_by()
    )
    # "", a JSON null (SQLite spells it "null", PostgreSQL None): all "no class".
    totals: dict[str, int] = {}
    for row in class_rows:
        label = _class_label(row["network_class"])
        totals[label] = totals.get(label, 0) + row["n"]
    classes = [
        {"network_class": label, "n": n}
        for label, n in sorted(totals.items(), key=lambda item: (-item[1], item[0]))
    ]
    return {"asns": asns, "classes": classes}


def _digits(value: Any) -> bool:
    return str(value).isdigit()


def _class_label(value: Any) -> str:
    return "none" if value in (None, "", "null") else str(value)


def session_tiers(*, since: datetime.datetime) -> list[dict[str, Any]]:
    """Session starts since ``since`` by the challenge ladder's risk tier (their
    events' ``details["risk"]``): issued, refused, and those a ladder in dry run
    would have asked more of. Every tier has a row, in order."""
    rows = (
        SecurityEvent.objects.filter(created_at__gte=since, details__risk__stage="session")
        .annotate(tier=KT("details__risk__tier"))
        .values("tier", "kind", "decision")
        .annotate(n=Sum("count"))
        .order_by()
    )
    table = {tier: {"tier": tier, "issued": 0, "refused": 0, "dry_run": 0} for tier in TIERS}
    for row in rows:
        entry = table.get(row["tier"])
        if entry is None:
            continue
        if row["kind"] == "session_issued":
            entry["issued"] += row["n"]
        elif row["decision"] == "deny":
            entry["refused"] += row["n"]
        elif row["kind"] == "challenge_ladder":
            entry["dry_run"] += row["n"]
    return list(table.values())


def active_blocks_count(*, now: datetime.datetime) -> int:
    return (
        BlockedClient.objects.filter(lifted_at__isnull=True)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        .count()
    )


def active_phone_prefix_blocks(*, now: datetime.datetime, limit: int = 20) -> list[BlockedClient]:
    """Phone prefixes blocked now, newest first (SMS pumping shows here)."""
    return list(
        BlockedClient.objects.filter(kind=BlockedClient.Kind.PHONE_PREFIX, lifted_at__isnull=True)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        .order_by("-created_at")[:limit]
    )


def dashboard_view(request: HttpRequest, *, each_context: dict[str, Any]) -> HttpResponse:
    """Render the dashboard; the caller (the admin) has checked the permission."""
    now = timezone.now()
    series = events_per_hour(now=now)
    totals = sorted(series["totals"].items(), key=lambda item: (-item[1], item[0]))
    context = {
        **each_context,
        "title": "Security dashboard",
        "chart": chart_bars(series),
        "chart_width": CHART_WIDTH,
        "chart_height": CHART_HEIGHT + CHART_TOP + 20,
        "axis_y": CHART_TOP + CHART_HEIGHT,
        "event_total": sum(series["totals"].values()),
        "totals": [(kind, kind_label(kind), n) for kind, n in totals],
        "offenders": top_offenders(since=now - datetime.timedelta(hours=HOURS)),
        "networks": denied_networks(since=now - datetime.timedelta(hours=HOURS)),
        "tiers": session_tiers(since=now - datetime.timedelta(hours=HOURS)),
        "active_blocks": active_blocks_count(now=now),
        "phone_prefix_blocks": active_phone_prefix_blocks(now=now),
    }
    return TemplateResponse(request, "admin/protection/dashboard.html", context)
