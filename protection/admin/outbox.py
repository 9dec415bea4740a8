"""The outbox in the admin: read-only, filterable. Payloads are never shown.

Staff see what is pending, sent and dead, its attempts, next attempt and
last error, and the keyed digest of a sent payload; a pending payload
(recipient, code) is named by its fields only.
"""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from protection.admin.display import compact_time, truncated
from protection.core.outbox import OutboxMessage


@admin.register(OutboxMessage)
class OutboxMessageAdmin(admin.ModelAdmin):
    list_display = (
        "created", "channel", "short_topic", "target", "status", "attempts", "next_attempt",
        "short_error",
    )  # fmt: skip
    list_display_links = ("created",)
    list_filter = ("status", "channel", "topic", "created_at")
    search_fields = ("=public_id", "topic", "=target")
    date_hierarchy = "created_at"
    show_full_result_count = False
    fields = (
        "public_id", "channel", "topic", "target", "status", "attempts", "created_at",
        "next_attempt_at", "give_up_at", "last_attempt_at", "finished_at", "last_error",
        "payload_fields", "payload_digest",
    )  # fmt: skip
    readonly_fields = fields

    class Media:
        css = {"all": ("protection/admin/lists.css",)}

    @admin.display(description="created", ordering="created_at")
    def created(self, obj: OutboxMessage) -> str:
        return compact_time(obj.created_at)

    @admin.display(description="topic", ordering="topic")
    def short_topic(self, obj: OutboxMessage) -> str:
        return truncated(obj.topic, 24)

    @admin.display(description="next attempt", ordering="next_attempt_at")
    def next_attempt(self, obj: OutboxMessage) -> str:
        if obj.status != OutboxMessage.Status.PENDING:
            return compact_time(None)
        return compact_time(obj.next_attempt_at)

    @admin.display(description="last error")
    def short_error(self, obj: OutboxMessage) -> str:
        return truncated(obj.last_error, 32)

    @admin.display(description="payload")
    def payload_fields(self, obj: OutboxMessage) -> str:
        if not obj.payload:
            return "scrubbed (see the digest)" if obj.payload_digest else "—"
        return "fields: " + ", ".join(sorted(obj.payload))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
