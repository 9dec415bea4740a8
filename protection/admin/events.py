"""The audit log in the admin: read-only, filterable, searchable; and the
security dashboard, mounted under it for whoever may view security events."""

from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, path

from protection.admin.blocks import BlockDurationActionForm, block_event_ips
from protection.admin.dashboard import dashboard_view
from protection.admin.display import compact_time, key_label, truncated
from protection.core.events import SecurityEvent


@admin.register(SecurityEvent)
class SecurityEventAdmin(admin.ModelAdmin):
    list_display = ("when", "kind", "decision", "short_reason", "ip", "key")
    list_display_links = ("when",)
    list_filter = ("decision", "kind", "reason", "created_at", "api_key")
    search_fields = ("=client_ip", "kind", "reason", "path", "=session_id", "api_key__public_id")
    date_hierarchy = "created_at"
    list_select_related = ("api_key",)
    show_full_result_count = False

    class Media:
        css = {"all": ("protection/admin/lists.css",)}

    actions = [block_event_ips]
    action_form = BlockDurationActionForm

    # The path is on the detail page and in search; the list has no room for it.

    @admin.display(description="when", ordering="created_at")
    def when(self, obj: SecurityEvent) -> str:
        return compact_time(obj.created_at)

    @admin.display(description="reason", ordering="reason")
    def short_reason(self, obj: SecurityEvent) -> str:
        return truncated(obj.reason, 16)

    @admin.display(description="client IP", ordering="client_ip")
    def ip(self, obj: SecurityEvent) -> str:
        return truncated(obj.client_ip, 16)  # IPv6 addresses are long

    @admin.display(description="API key", ordering="api_key__name")
    def key(self, obj: SecurityEvent) -> str:
        return key_label(obj.api_key, 14)

    def get_urls(self) -> list[URLPattern]:
        dashboard = path(
            "dashboard/",
            self.admin_site.admin_view(self.dashboard),
            name="protection_securityevent_dashboard",
        )
        return [dashboard, *super().get_urls()]

    def dashboard(self, request: HttpRequest) -> HttpResponse:
        """The security dashboard: staff who may view security events, nobody else."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        return dashboard_view(request, each_context=self.admin_site.each_context(request))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
