"""Anonymous sessions in the admin: find them by key, status and IP; revoke them
or block their IPs."""

import datetime
from typing import Any

from django.contrib import admin, messages
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.html import format_html

from protection.admin.blocks import BlockDurationActionForm, block_session_ips
from protection.admin.display import compact_time, key_label, truncated
from protection.base.clientip import normalize_ip
from protection.sessions import AnonymousSession, session_revoke


class SessionStatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("active", "active"), ("revoked", "revoked"), ("expired", "expired")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        now = timezone.now()
        if self.value() == "active":
            return queryset.filter(revoked_at__isnull=True, expires_at__gt=now)
        if self.value() == "revoked":
            return queryset.filter(revoked_at__isnull=False)
        if self.value() == "expired":
            return queryset.filter(Q(revoked_at__isnull=True) & Q(expires_at__lte=now))
        return queryset


class BusiestIpFilter(admin.SimpleListFilter):
    """Filter by client IP: offers the busiest IPs of the last day; any IP
    works in the URL (``?client_ip=192.0.2.7``), and search takes exact IPs."""

    title = "client IP (busiest, last 24 h)"
    parameter_name = "client_ip"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        since = timezone.now() - datetime.timedelta(days=1)
        busiest = (
            AnonymousSession.objects.filter(created_at__gte=since, client_ip__isnull=False)
            .values("client_ip")
            .annotate(sessions=Count("id"))
            .order_by("-sessions")[:10]
        )
        choices = [(row["client_ip"], f"{row['client_ip']} ({row['sessions']})") for row in busiest]
        chosen = self.value()
        if chosen and chosen not in {value for value, _ in choices}:
            choices.append((chosen, chosen))
        return choices

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        value = self.value()
        if not value:
            return queryset
        ip = normalize_ip(value)
        return queryset.filter(client_ip=ip) if ip else queryset.none()


@admin.register(AnonymousSession)
class AnonymousSessionAdmin(admin.ModelAdmin):
    list_display = (
        "short_id",
        "key",
        "ip",
        "status",
        "created",
        "expires",
    )
    list_display_links = ("short_id",)
    list_filter = (SessionStatusFilter, "api_key", BusiestIpFilter, "created_at")
    search_fields = ("=id", "=client_ip", "=device_id", "api_key__public_id", "api_key__name")
    list_select_related = ("api_key",)
    date_hierarchy = "created_at"
    show_full_result_count = False

    class Media:
        css = {"all": ("protection/admin/lists.css",)}

    actions = ["revoke_selected", block_session_ips]
    action_form = BlockDurationActionForm
    # Read-only; the refresh family state (refresh_jti) is not shown at all.
    fields = readonly_fields = tuple(
        field.name for field in AnonymousSession._meta.fields if field.name != "refresh_jti"
    )

    @admin.display(description="status")
    def status(self, obj: AnonymousSession) -> str:
        # Why it was revoked is on hover (and on the detail page).
        if obj.revoked_reason:
            return format_html('<span title="{}">{}</span>', obj.revoked_reason, obj.status())
        return obj.status()

    @admin.display(description="session", ordering="id")
    def short_id(self, obj: AnonymousSession) -> str:
        return truncated(obj.id, 9)

    @admin.display(description="API key", ordering="api_key__name")
    def key(self, obj: AnonymousSession) -> str:
        return key_label(obj.api_key, 14)

    @admin.display(description="client IP", ordering="client_ip")
    def ip(self, obj: AnonymousSession) -> str:
        return truncated(obj.client_ip, 16)

    @admin.display(description="created", ordering="created_at")
    def created(self, obj: AnonymousSession) -> str:
        return compact_time(obj.created_at)

    @admin.display(description="expires", ordering="expires_at")
    def expires(self, obj: AnonymousSession) -> str:
        return compact_time(obj.expires_at)

    @admin.action(description="Revoke selected sessions", permissions=["change"])
    def revoke_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        # The reason is a code ("admin"): it becomes a metric label, where a
        # staff name must never appear. Who did it is the admin's own history
        # (LogEntry, "History" on the session's page).
        revoked = 0
        for session in queryset.select_related("api_key"):
            if session_revoke(session=session, reason="admin"):
                revoked += 1
                self.log_change(request, session, "Revoked the session.")
        self.message_user(request, f"{revoked} session(s) revoked.", messages.SUCCESS)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Revoke instead: that stops the tokens at once and writes the event;
        # deleting would lose the audit trail and leave live tokens unexplained.
        return False
