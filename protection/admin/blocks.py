"""Blocks in the admin: list, filters, search, add by any kind, lift; and the
"block their IPs for …" actions used on security events and sessions."""

import datetime
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.html import format_html

from protection.admin.display import compact_time, truncated
from protection.base.durations import parse_duration
from protection.blocks import (
    BlockedClient,
    block_create,
    block_lift,
    block_target,
    block_update,
)

DEFAULT_ACTION_DURATION = "24h"


class ActiveFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("active", "active"), ("ended", "expired or lifted")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        now = timezone.now()
        active = Q(lifted_at__isnull=True) & (Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        if self.value() == "active":
            return queryset.filter(active)
        if self.value() == "ended":
            return queryset.exclude(active)
        return queryset


class CreatedByFilter(admin.SimpleListFilter):
    title = "created by"
    parameter_name = "origin"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        rules = (
            BlockedClient.objects.exclude(created_by_rule="")
            .values_list("created_by_rule", flat=True)
            .distinct()
            .order_by("created_by_rule")
        )
        return [("staff", "staff"), ("rule", "any rule")] + [
            (f"rule:{name}", f"rule {name}") for name in rules
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        value = self.value() or ""
        if value == "staff":
            return queryset.filter(created_by_rule="")
        if value == "rule":
            return queryset.exclude(created_by_rule="")
        if value.startswith("rule:"):
            return queryset.filter(created_by_rule=value[5:])
        return queryset


class BlockAddForm(forms.ModelForm):
    duration = forms.CharField(required=False, help_text="30s, 30m, 24h, 7d. Empty = permanent.")
    force = forms.BooleanField(
        required=False,
        help_text="Needed for a network broader than BLOCKS_BROADEST_PREFIX_IPV4 / _IPV6.",
    )

    class Meta:
        model = BlockedClient
        fields = ("kind", "value", "reason")
        help_texts = {
            "value": "IP (203.0.113.7; an IPv6 address blocks its /64), CIDR (203.0.113.0/24, "
            "2001:db8::/48), API key public id, session id, device id, email domain, AS number "
            "(64500 or AS64500), country (ISO 3166 alpha-2: FR), network class (tor, hosting, "
            "vpn, proxy) or phone number prefix (+1201555: E.164 without its last four digits), "
            "matching the kind. AS number, country and class need the network-origin data "
            "(netintel_update)."
        }

    def clean_duration(self) -> datetime.timedelta | None:
        raw = self.cleaned_data.get("duration") or ""
        if not raw.strip():
            return None
        try:
            return parse_duration(raw)
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from exc

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        kind, value = cleaned.get("kind"), cleaned.get("value")
        if kind and value:
            try:
                cleaned["kind"], cleaned["value"] = block_target(
                    kind=kind, value=value, force=bool(cleaned.get("force"))
                )
            except ValueError as exc:
                self.add_error("value", str(exc))
        return cleaned


@admin.register(BlockedClient)
class BlockedClientAdmin(admin.ModelAdmin):
    list_display = (
        "kind",
        "short_value",
        "short_reason",
        "created",
        "expires",
        "active",
        "created_by_label",
        "hits",
    )
    list_display_links = ("kind", "short_value")
    list_filter = ("kind", ActiveFilter, CreatedByFilter)
    search_fields = ("value", "reason", "created_by_rule", "created_by__username")
    readonly_fields = (
        "kind",
        "value",
        "created_at",
        "created_by",
        "created_by_rule",
        "lifted_at",
        "lifted_by",
        "hit_count",
        "last_hit_at",
    )
    actions = ["lift_blocks"]
    list_select_related = ("created_by",)

    class Media:
        css = {"all": ("protection/admin/lists.css",)}

    @admin.display(description="value", ordering="value")
    def short_value(self, obj: BlockedClient) -> str:
        return truncated(obj.value, 16)

    @admin.display(description="reason", ordering="reason")
    def short_reason(self, obj: BlockedClient) -> str:
        return truncated(obj.reason, 16)

    @admin.display(description="created", ordering="created_at")
    def created(self, obj: BlockedClient) -> str:
        return compact_time(obj.created_at)

    @admin.display(description="expires", ordering="expires_at")
    def expires(self, obj: BlockedClient) -> str:
        return compact_time(obj.expires_at)

    @admin.display(description="hits", ordering="hit_count")
    def hits(self, obj: BlockedClient) -> str:
        if not obj.last_hit_at:
            return str(obj.hit_count)
        return format_html(
            '<span title="last hit {}">{}</span>', obj.last_hit_at.isoformat(), obj.hit_count
        )

    @admin.display(boolean=True)
    def active(self, obj: BlockedClient) -> bool:
        return obj.is_active()

    @admin.display(description="created by")
    def created_by_label(self, obj: BlockedClient) -> str:
        return obj.created_by_label

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        if obj is None:
            kwargs["form"] = BlockAddForm
        return super().get_form(request, obj, change, **kwargs)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return () if obj is None else self.readonly_fields

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return ("kind", "value", "duration", "reason", "force")
        return ("reason", "expires_at", *self.readonly_fields)

    def save_model(self, request: HttpRequest, obj: BlockedClient, form: Any, change: bool) -> None:
        if change:
            block_update(
                block=obj,
                reason=form.cleaned_data.get("reason", obj.reason),
                expires_at=form.cleaned_data.get("expires_at"),
                changed_by=request.user,
            )
            return
        created = block_create(
            kind=form.cleaned_data["kind"],
            value=form.cleaned_data["value"],
            reason=form.cleaned_data.get("reason", ""),
            duration=form.cleaned_data.get("duration"),
            created_by=request.user,
            force=bool(form.cleaned_data.get("force")),
        )
        obj.pk = created.pk
        obj.__dict__.update({k: v for k, v in created.__dict__.items() if k != "_state"})

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # lift instead: the history stays until purge_expired

    @admin.action(description="Lift the selected blocks")
    def lift_blocks(self, request: HttpRequest, queryset: QuerySet) -> None:
        lifted = 0
        for block in queryset.filter(lifted_at__isnull=True):
            block_lift(block=block, lifted_by=request.user)
            lifted += 1
        self.message_user(request, f"Lifted {lifted} block(s).", messages.SUCCESS)


class BlockDurationActionForm(ActionForm):
    """Admin action form with a duration, for "block their IPs" actions."""

    duration = forms.CharField(
        required=False,
        initial=DEFAULT_ACTION_DURATION,
        help_text="for 30m, 24h, 7d (empty = permanent)",
    )


def block_ips_action(modeladmin: Any, request: HttpRequest, ips: list[str], source: str) -> None:
    """Block each distinct IP in ``ips`` for the duration in the action form."""
    raw = (request.POST.get("duration") or "").strip()
    try:
        duration = parse_duration(raw) if raw else None
    except ValueError as exc:
        modeladmin.message_user(request, str(exc), messages.ERROR)
        return
    distinct = sorted({ip for ip in ips if ip})
    for ip in distinct:
        block_create(
            kind=BlockedClient.Kind.IP,
            value=ip,
            reason=f"blocked from the admin ({source})",
            duration=duration,
            created_by=request.user,
        )
    how_long = raw or "permanently"
    modeladmin.message_user(
        request, f"Blocked {len(distinct)} IP address(es) for {how_long}.", messages.SUCCESS
    )


@admin.action(description="Block the IP of the selected events for …")
def block_event_ips(modeladmin: Any, request: HttpRequest, queryset: QuerySet) -> None:
    block_ips_action(
        modeladmin, request, list(queryset.values_list("client_ip", flat=True)), "security event"
    )


@admin.action(description="Block the IP of the selected sessions for …")
def block_session_ips(modeladmin: Any, request: HttpRequest, queryset: QuerySet) -> None:
    """For the sessions admin: ``actions = [block_session_ips]`` with
    ``action_form = BlockDurationActionForm``."""
    block_ips_action(
        modeladmin, request, list(queryset.values_list("client_ip", flat=True)), "session"
    )
