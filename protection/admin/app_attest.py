"""App Attest device keys in the admin: find a device by key id, see its app,
environment and counter, and block devices (the key id is the device id).

Read-only and never deleted here: a key is written only by a verified
attestation, its counter only by a verified assertion; a bad device is
blocked, not forgotten.
"""

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from protection.admin.blocks import BlockDurationActionForm
from protection.attestation.app_attest import AppAttestKey
from protection.base.durations import parse_duration
from protection.blocks.models import BlockedClient
from protection.blocks.services import block_create


@admin.action(description="Block these devices")
def block_devices(modeladmin: Any, request: HttpRequest, queryset: QuerySet) -> None:
    raw = (request.POST.get("duration") or "").strip()
    try:
        duration = parse_duration(raw) if raw else None
    except ValueError as exc:
        modeladmin.message_user(request, str(exc), messages.ERROR)
        return
    key_ids = sorted(set(queryset.values_list("key_id", flat=True)))
    for key_id in key_ids:
        block_create(
            kind=BlockedClient.Kind.DEVICE,
            value=key_id,
            reason="blocked from the admin (App Attest key)",
            duration=duration,
            created_by=request.user,
        )
    modeladmin.message_user(
        request,
        f"Blocked {len(key_ids)} device(s) for {raw or 'permanently'}.",
        messages.SUCCESS,
    )


@admin.register(AppAttestKey)
class AppAttestKeyAdmin(admin.ModelAdmin):
    list_display = (
        "key_id",
        "app_id",
        "environment",
        "api_key",
        "sign_count",
        "created_at",
        "last_used_at",
    )
    list_filter = ("environment", "app_id", "api_key")
    search_fields = ("=key_id",)
    fields = list_display
    readonly_fields = list_display
    ordering = ("-created_at",)
    actions = [block_devices]
    action_form = BlockDurationActionForm

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Forgetting a key would let its device attest a new one unnoticed: block it.
        return False
