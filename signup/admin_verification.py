"""Verification in the admin: pending sign-ups (read-only) and SMS sends per prefix.

Pending sign-ups show what staff need to answer "did my code go out?":
when, which channel, whether a code was sent or the address was taken (a
notice instead), wrong attempts, expiry. Never a code or a token (only
their digests exist). Search is by exact email or phone, normalised and
matched on the keyed digest the row keeps.

*Sends per prefix* (a page linked from the list) counts, for the last hour
and day, the SMS queued per phone prefix (the outbox's ``prefix:`` target),
the people created with a number of that prefix, and the prefix's active
block: the conversion the SMS-pumping monitor watches, for staff.
"""

import datetime
from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path
from django.utils import timezone

from protection.admin.display import compact_time, key_label
from protection.blocks import BlockedClient
from protection.core.outbox import OutboxMessage
from signup import normalization
from signup.limits import identifier_digest
from signup.pending import PendingSignup
from signup.persons import Person

PREFIX_TARGET = "prefix:"
TOP_PREFIXES = 50


@admin.register(PendingSignup)
class PendingSignupAdmin(admin.ModelAdmin):
    list_display = ("created", "channel", "sent", "attempts", "expires", "key")
    list_filter = ("channel", "deliverable", "created_at")
    search_fields = ()  # exact identifiers only: see get_search_results
    list_select_related = ("api_key",)
    show_full_result_count = False
    change_list_template = "admin/signup/pendingsignup/change_list.html"
    fields = (
        "id", "session_id", "api_key", "channel", "deliverable", "email", "phone",
        "full_name", "attempts", "created_at", "expires_at", "client_ip_prefix",
        "verdict_action", "risk", "risk_reasons", "identifier_digest",
    )  # fmt: skip
    readonly_fields = fields

    class Media:
        css = {"all": ("protection/admin/lists.css",)}

    @admin.display(description="created", ordering="created_at")
    def created(self, obj: PendingSignup) -> str:
        return compact_time(obj.created_at)

    @admin.display(description="expires", ordering="expires_at")
    def expires(self, obj: PendingSignup) -> str:
        return compact_time(obj.expires_at)

    @admin.display(description="sent")
    def sent(self, obj: PendingSignup) -> str:
        return "code" if obj.deliverable else "notice (address taken)"

    @admin.display(description="API key", ordering="api_key__name")
    def key(self, obj: PendingSignup) -> str:
        return key_label(obj.api_key, 16)

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[PendingSignup], search_term: str
    ) -> tuple[QuerySet[PendingSignup], bool]:
        """Match the exact email or phone (any spelling) through its keyed digest."""
        term = search_term.strip()
        if not term:
            return queryset, False
        digests = []
        for normalize in (normalization.email_normalize, normalization.phone_normalize):
            try:
                digests.append(identifier_digest(normalize(term)))
            except normalization.InvalidValue:
                continue
        return queryset.filter(identifier_digest__in=digests), False

    def get_urls(self) -> list[URLPattern]:
        prefixes = path(
            "sms-prefixes/",
            self.admin_site.admin_view(self.sms_prefixes),
            name="signup_pendingsignup_sms_prefixes",
        )
        return [prefixes, *super().get_urls()]

    def sms_prefixes(self, request: HttpRequest) -> HttpResponse:
        """SMS sends and confirmations per phone prefix, last hour and day."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "title": "SMS sends per phone prefix",
            "rows": sms_prefix_rows(now=timezone.now()),
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/signup/pendingsignup/sms_prefixes.html", context)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def sms_prefix_rows(*, now: datetime.datetime, limit: int = TOP_PREFIXES) -> list[dict[str, Any]]:
    """The busiest prefixes of the last day: SMS queued and people created (last
    hour, last day), their conversion, and the prefix's active block, if any."""
    hour, day = now - datetime.timedelta(hours=1), now - datetime.timedelta(days=1)
    sends = (
        OutboxMessage.objects.filter(
            channel="sms", target__startswith=PREFIX_TARGET, created_at__gte=day
        )
        .exclude(status=OutboxMessage.Status.SKIPPED)
        .values("target")
        .annotate(day=Count("pk"), hour=Count("pk", filter=Q(created_at__gte=hour)))
        .order_by("-day", "target")[:limit]
    )
    rows = []
    for row in sends:
        prefix = row["target"][len(PREFIX_TARGET) :]
        created = Person.objects.filter(phone__startswith=prefix, created_at__gte=day).aggregate(
            day=Count("pk"), hour=Count("pk", filter=Q(created_at__gte=hour))
        )
        block = (
            BlockedClient.objects.filter(
                kind=BlockedClient.Kind.PHONE_PREFIX, value=prefix, lifted_at__isnull=True
            )
            .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
            .first()
        )
        rows.append(
            {
                "prefix": prefix,
                "sends_hour": row["hour"],
                "sends_day": row["day"],
                "confirmed_hour": created["hour"],
                "confirmed_day": created["day"],
                "rate_day": round(100 * created["day"] / row["day"]) if row["day"] else 0,
                "block": block,
            }
        )
    return rows
