"""Anonymous sessions in the admin: find them by key, status and IP; revoke them."""

from typing import Any

from django.contrib import admin, messages
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone

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


@admin.register(AnonymousSession)
class AnonymousSessionAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "api_key",
        "client_ip",
        "status",
        "created_at",
        "expires_at",
        "revoked_reason",
    )
    list_filter = (SessionStatusFilter, "api_key", "created_at")
    search_fields = ("=id", "=client_ip", "=device_id", "api_key__public_id", "api_key__name")
    list_select_related = ("api_key",)
    date_hierarchy = "created_at"
    show_full_result_count = False
    actions = ["revoke_selected"]
    # Read-only; the refresh family state (refresh_jti) is not shown at all.
    fields = readonly_fields = [
        field.name for field in AnonymousSession._meta.fields if field.name != "refresh_jti"
    ]

    @admin.display(description="status")
    def status(self, obj: AnonymousSession) -> str:
        return obj.status()

    @admin.action(description="Revoke selected sessions", permissions=["change"])
    def revoke_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        revoked = 0
        for session in queryset.select_related("api_key"):
            revoked += session_revoke(
                session=session, reason=f"admin:{request.user.get_username()}"[:64]
            )
        self.message_user(request, f"{revoked} session(s) revoked.", messages.SUCCESS)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
