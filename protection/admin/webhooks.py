"""Webhook endpoints in the admin: list with their delivery state, create (secret shown
once), change, disable and enable; each endpoint shows its recent deliveries.

Every write goes through ``protection.webhooks``; endpoints are never
deleted (disable them), so the audit trail stays whole.
"""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from protection.admin.display import compact_time, truncated
from protection.core.outbox import OutboxMessage
from protection.webhooks import (
    EVENT_TYPES,
    WebhookEndpoint,
    webhook_endpoint_create,
    webhook_endpoint_disable,
    webhook_endpoint_enable,
    webhook_endpoint_update,
    webhook_url_clean,
)

TEMPLATES = "admin/protection/webhookendpoint/"
EVENT_CHOICES = [(name, name) for name in EVENT_TYPES]


class WebhookEndpointForm(forms.ModelForm):
    url = forms.CharField(max_length=2000)  # checked by webhook_url_clean, resolved address too
    event_types = forms.MultipleChoiceField(
        choices=EVENT_CHOICES,
        widget=forms.CheckboxSelectMultiple,
        help_text="Events this endpoint receives.",
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["url", "description", "event_types"]
        help_texts = {
            "url": "https:// URL of the receiver. Hosts that resolve to private or loopback "
            "addresses are refused unless WEBHOOKS_ALLOW_PRIVATE_TARGETS is on."
        }

    def clean_url(self) -> str:
        try:
            return webhook_url_clean(self.cleaned_data["url"])
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None


class WebhookEndpointCreateForm(forms.Form):
    url = forms.CharField(max_length=2000, help_text=WebhookEndpointForm.Meta.help_texts["url"])
    description = forms.CharField(max_length=200, required=False)
    event_types = forms.MultipleChoiceField(
        choices=EVENT_CHOICES, widget=forms.CheckboxSelectMultiple
    )


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    form = WebhookEndpointForm
    list_display = ("id", "short_url", "events", "state", "last_success", "last_failure")
    list_filter = ("enabled",)
    search_fields = ("url", "description")
    actions = ["disable_selected", "enable_selected"]
    readonly_fields = (
        "state", "created_at", "created_by", "failing_since", "consecutive_failures",
        "last_success_at", "last_failure_at", "last_error", "disabled_at", "disabled_reason",
        "recent_deliveries",
    )  # fmt: skip

    class Media:
        css = {"all": ("protection/admin/lists.css",)}

    # --- display ---------------------------------------------------------------

    @admin.display(description="URL", ordering="url")
    def short_url(self, obj: WebhookEndpoint) -> str:
        return truncated(obj.url, 40)

    @admin.display(description="events")
    def events(self, obj: WebhookEndpoint) -> str:
        return ", ".join(obj.event_types) or "—"

    @admin.display(description="state")
    def state(self, obj: WebhookEndpoint) -> str:
        if not obj.enabled:
            return f"disabled: {obj.disabled_reason}" if obj.disabled_reason else "disabled"
        if obj.failing_since:
            return f"failing ({obj.consecutive_failures} failed attempts)"
        return "enabled"

    @admin.display(description="last success", ordering="last_success_at")
    def last_success(self, obj: WebhookEndpoint) -> str:
        return compact_time(obj.last_success_at)

    @admin.display(description="last failure", ordering="last_failure_at")
    def last_failure(self, obj: WebhookEndpoint) -> str:
        return compact_time(obj.last_failure_at)

    @admin.display(description="recent deliveries")
    def recent_deliveries(self, obj: WebhookEndpoint) -> str:
        deliveries = OutboxMessage.objects.filter(target=obj.target).order_by("-created_at")[:20]
        if not deliveries:
            return "none yet"
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    compact_time(message.created_at),
                    message.topic,
                    message.status,
                    message.attempts,
                    message.last_error or "—",
                )
                for message in deliveries
            ),
        )
        every = reverse("admin:protection_outboxmessage_changelist") + f"?q={obj.target}"
        return format_html(
            "<table><thead><tr><th>created</th><th>event</th><th>status</th><th>attempts</th>"
            '<th>last error</th></tr></thead><tbody>{}</tbody></table><a href="{}">all</a>',
            rows,
            every,
        )

    # --- writes go through the services ------------------------------------------

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: Any = None) -> Any:
        """One form, then the secret, shown once on its own page (never stored in a message)."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = WebhookEndpointCreateForm(request.POST if request.method == "POST" else None)
        changelist_url = reverse("admin:protection_webhookendpoint_changelist")
        if form.is_valid():
            try:
                endpoint, secret = webhook_endpoint_create(
                    url=form.cleaned_data["url"],
                    event_types=form.cleaned_data["event_types"],
                    description=form.cleaned_data["description"],
                    created_by=request.user,
                )
            except ValueError as exc:
                form.add_error("url", str(exc))
            else:
                self.log_addition(request, endpoint, [{"added": {}}])
                context = {
                    **self.admin_site.each_context(request),
                    "opts": self.opts,
                    "title": "Webhook endpoint created",
                    "endpoint": endpoint,
                    "secret": secret,
                    "changelist_url": changelist_url,
                    "change_url": reverse(
                        "admin:protection_webhookendpoint_change", args=[endpoint.pk]
                    ),
                }
                response = TemplateResponse(request, TEMPLATES + "secret.html", context)
                response["Cache-Control"] = "no-store"
                return response
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Add webhook endpoint",
            "form": form,
            "changelist_url": changelist_url,
        }
        return TemplateResponse(request, TEMPLATES + "add.html", context)

    def save_model(
        self, request: HttpRequest, obj: WebhookEndpoint, form: forms.Form, change: bool
    ) -> None:
        changes = {name: form.cleaned_data[name] for name in form.changed_data}
        try:
            webhook_endpoint_update(
                endpoint=WebhookEndpoint.objects.get(pk=obj.pk),
                changes=changes,
                changed_by=request.user,
            )
        except ValueError as exc:  # resolved differently since the form was checked
            self.message_user(request, f"Not saved: {exc}", messages.ERROR)

    @admin.action(description="Disable selected endpoints", permissions=["change"])
    def disable_selected(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        for endpoint in queryset:
            webhook_endpoint_disable(
                endpoint=endpoint,
                reason="disabled by staff",
                code="staff",
                disabled_by=request.user,
            )
        self.message_user(request, f"Disabled {queryset.count()} endpoint(s).", messages.SUCCESS)
        return None

    @admin.action(
        description="Enable selected endpoints (failure record cleared)", permissions=["change"]
    )
    def enable_selected(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        for endpoint in queryset:
            webhook_endpoint_enable(endpoint=endpoint, enabled_by=request.user)
        self.message_user(request, f"Enabled {queryset.count()} endpoint(s).", messages.SUCCESS)
        return None
