"""The audit log in the admin: read-only, filterable, searchable."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from protection.admin.blocks import BlockDurationActionForm, block_event_ips
from protection.events import SecurityEvent


@admin.register(SecurityEvent)
class SecurityEventAdmin(admin.ModelAdmin):
    list_display = ("created_at", "kind", "decision", "reason", "client_ip", "api_key", "path")
    list_filter = ("decision", "kind", "reason", "created_at", "api_key")
    search_fields = ("=client_ip", "kind", "reason", "path", "=session_id", "api_key__public_id")
    date_hierarchy = "created_at"
    list_select_related = ("api_key",)
    show_full_result_count = False
    actions = [block_event_ips]
    action_form = BlockDurationActionForm

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
