"""API keys in the admin: list, filter, create (raw key shown once), revoke, rotate.

Creating or rotating renders the new raw key in that one response (never
stored, never in a message or session, ``Cache-Control: no-store``). Revoked
keys are read-only; nothing can be deleted, so the audit trail stays whole.
Every write goes through the services in ``protection.keys``.

Longer than ~300 lines: one key has many settings (scopes, origins,
evidence, CAPTCHA, attestation, network policy, challenge ladder, limits),
and their form, its validation and the admin's actions belong together.
"""

import datetime
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from protection.admin.display import compact_time, truncated
from protection.admin.showonce import (
    shown_once_forget,
    shown_once_stash,
    shown_once_take,
    shown_once_token,
)
from protection.base.exceptions import ProtectionError
from protection.http.context import request_context
from protection.keys import (
    SCOPES,
    VERIFICATIONS,
    ApiKey,
    ApiKeyStatus,
    api_key_create,
    api_key_revoke,
    api_key_rotate,
    api_key_status,
    api_key_update,
    clean_origins,
)
from protection.keys.ladder import challenge_ladder_clean, challenge_ladder_format
from protection.keys.models import (
    ApiKeyQuerySet,
    clean_attest_every_request,
    clean_captcha,
    clean_captcha_action,
)
from protection.keys.network_policy import network_policy_clean, network_policy_format
from protection.keys.services import DEFAULT_GRACE, UPDATABLE_FIELDS

TEMPLATES = "admin/protection/apikey/"


class ApiKeyForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(
        choices=[(scope, scope) for scope in SCOPES],
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="Endpoints this key may call. None ticked: the key can call nothing.",
    )
    allowed_origins = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        help_text="Exact browser origins, comma- or line-separated, e.g. https://app.example. "
        "Empty: browsers are refused (requests without Origin, from apps and servers, "
        "are not origin-checked).",
    )
    required_verifications = forms.MultipleChoiceField(
        choices=[(name, name) for name in VERIFICATIONS],
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="What a client must pass before a session is issued. None ticked: nothing. "
        "recaptcha / turnstile / hcaptcha: one CAPTCHA (the key's captcha below); "
        "pat: a Private Access Token; approov / app_check / app_attest: app attestation "
        "(see docs/attestation.md).",
    )

    captcha_action = forms.CharField(
        required=False,
        max_length=32,
        initial="signup",
        help_text="Turnstile: the action the widget is rendered with, checked on every "
        "token (empty: signup).",
    )

    network_policy = forms.CharField(
        required=False,
        help_text="Per network class (tor, proxy, vpn, hosting): allow, harder, deny or "
        "require:<evidence>, e.g. tor=deny, hosting=harder (or a JSON object). A class not "
        "named follows the global NETWORK_POLICY.",
    )

    challenge_ladder = forms.CharField(
        required=False,
        help_text="Per risk tier (low, elevated, high, critical): the evidence asked on top of "
        "the required verifications, joined with +, or deny; e.g. high=captcha+pow_hard, "
        "critical=deny (or a JSON object); dry_run=true to only record what it would ask; off "
        "to ask every client the required verifications only. A tier not named follows the "
        "global CHALLENGE_LADDER (docs/evidence.md).",
    )

    class Meta:
        model = ApiKey
        fields = [
            "name",
            "kind",
            "scopes",
            "allowed_origins",
            "required_verifications",
            "recaptcha_version",
            "recaptcha_action",
            "recaptcha_min_score",
            "captcha",
            "captcha_action",
            "attest_every_request",
            "attestation_overrides",
            "verifications_dry_run",
            "network_policy",
            "challenge_ladder",
            "rate_limit_overrides",
            "expires_at",
        ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk is None:
            self.initial.setdefault("scopes", list(SCOPES))
            self.initial.setdefault("required_verifications", ["pow"])
        else:
            self.initial["allowed_origins"] = ", ".join(self.instance.allowed_origins)
            self.initial["network_policy"] = network_policy_format(
                self.instance.network_policy
            ).replace(",", ", ")
            self.initial["challenge_ladder"] = challenge_ladder_format(
                self.instance.challenge_ladder
            ).replace(",", ", ")

    def clean_challenge_ladder(self) -> dict:
        return challenge_ladder_clean(self.cleaned_data.get("challenge_ladder") or "")

    def clean_network_policy(self) -> dict[str, str]:
        return network_policy_clean(self.cleaned_data.get("network_policy") or "")

    def clean_allowed_origins(self) -> list[str]:
        text = self.cleaned_data.get("allowed_origins") or ""
        return clean_origins(text.replace("\n", ","))

    def clean_captcha_action(self) -> str:
        return clean_captcha_action(self.cleaned_data.get("captcha_action") or "signup")

    def clean_rate_limit_overrides(self) -> dict:
        value = self.cleaned_data.get("rate_limit_overrides")
        if value in (None, ""):
            return {}
        if not isinstance(value, dict):
            raise ValidationError('Enter a JSON object, e.g. {"lookup": {"key": ["30/m"]}}.')
        return value

    def clean_attestation_overrides(self) -> dict:
        value: Any = self.cleaned_data.get("attestation_overrides")
        return {} if value in (None, "") else value

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        try:
            clean_attest_every_request(
                cleaned.get("attest_every_request", False),
                cleaned.get("required_verifications") or [],
            )
        except ValidationError as error:
            self.add_error("attest_every_request", error)
        try:
            cleaned["captcha"] = clean_captcha(
                cleaned.get("captcha", ""), cleaned.get("required_verifications") or []
            )
        except ValidationError as error:
            self.add_error("captcha", error)
        return cleaned


class RevokeForm(forms.Form):
    reason = forms.CharField(max_length=200, help_text="Why; kept in the audit log.")


class RotateForm(forms.Form):
    grace_hours = forms.IntegerField(
        min_value=0,
        max_value=24 * 90,
        initial=int(DEFAULT_GRACE.total_seconds() // 3600),
        help_text="How long the old key keeps working, in hours (0: stops now).",
    )


class StatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return list(ApiKeyStatus.choices)

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        status = self.value()
        if isinstance(queryset, ApiKeyQuerySet) and status and status in ApiKeyStatus.values:
            return queryset.with_status(status)
        return queryset


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    form = ApiKeyForm
    list_display = (
        "short_name", "short_kind", "public_id", "scope_list", "status", "last_used", "created",
    )  # fmt: skip
    # No expiry column: the status says "expired", the filter finds soon-to-expire keys.
    list_display_links = ("short_name",)
    list_filter = (StatusFilter, "kind", "created_at", "expires_at")
    search_fields = ("name", "=public_id")
    date_hierarchy = "created_at"
    actions = ["revoke_selected", "rotate_selected"]
    show_full_result_count = False

    class Media:
        # Shows the reCAPTCHA settings only while reCAPTCHA is required.
        js = ("protection/admin/apikey.js",)
        css = {"all": ("protection/admin/lists.css",)}

    readonly_fields = (
        "public_id", "status", "created_at", "created_by", "replaces", "successor_list",
        "rotated_at", "last_used_at", "revoked_at", "revoked_reason", "revoked_by",
    )  # fmt: skip

    # --- display ---------------------------------------------------------------

    @admin.display(description="name", ordering="name")
    def short_name(self, obj: ApiKey) -> str:
        return truncated(obj.name, 22)

    @admin.display(description="kind", ordering="kind")
    def short_kind(self, obj: ApiKey) -> str:
        return format_html('<span title="{}">{}</span>', obj.get_kind_display(), obj.kind)

    @admin.display(description="last used", ordering="last_used_at")
    def last_used(self, obj: ApiKey) -> str:
        return compact_time(obj.last_used_at)

    @admin.display(description="created", ordering="created_at")
    def created(self, obj: ApiKey) -> str:
        return compact_time(obj.created_at)

    @admin.display(description="scopes")
    def scope_list(self, obj: ApiKey) -> str:
        return ", ".join(obj.scopes) or "—"

    @admin.display(description="status")
    def status(self, obj: ApiKey) -> str:
        return api_key_status(obj).label

    @admin.display(description="successors")
    def successor_list(self, obj: ApiKey) -> str:
        return ", ".join(str(key) for key in obj.successors.all()) or "—"

    def get_fields(self, request: HttpRequest, obj: ApiKey | None = None) -> list[Any]:
        editable = list(ApiKeyForm.Meta.fields)
        if obj is None:
            return editable
        editable.remove("kind")  # baked into the raw key's prefix
        return ["name", "kind", "public_id", "status", *editable[1:], *self.readonly_fields[2:]]

    def get_readonly_fields(self, request: HttpRequest, obj: ApiKey | None = None) -> Any:
        if obj is None:
            return ()
        return ("kind", *self.readonly_fields)

    # --- permissions: revoked keys are read-only, nothing is ever deleted ----------

    def has_change_permission(self, request: HttpRequest, obj: ApiKey | None = None) -> bool:
        if obj is not None and obj.revoked_at is not None:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: ApiKey | None = None) -> bool:
        return False

    # --- writes go through the services ------------------------------------------

    def save_model(self, request: HttpRequest, obj: ApiKey, form: forms.Form, change: bool) -> None:
        data = form.cleaned_data
        if change:
            changes = {name: data[name] for name in form.changed_data if name in UPDATABLE_FIELDS}
            if changes:
                api_key_update(api_key=obj, changes=changes, updated_by=request.user)
            return
        created, raw_key = api_key_create(
            name=data["name"],
            kind=data["kind"],
            scopes=data["scopes"],
            allowed_origins=data["allowed_origins"],
            required_verifications=data["required_verifications"],
            rate_limit_overrides=data.get("rate_limit_overrides") or {},
            attest_every_request=data.get("attest_every_request", False),
            attestation_overrides=data.get("attestation_overrides") or {},
            verifications_dry_run=data.get("verifications_dry_run", False),
            network_policy=data.get("network_policy") or {},
            challenge_ladder=data.get("challenge_ladder") or {},
            captcha=data.get("captcha", ""),
            captcha_action=data.get("captcha_action") or "signup",
            expires_at=data.get("expires_at"),
            created_by=request.user,
        )
        # The admin logs and links to ``obj``: make it the row the service created.
        obj.__dict__.update(created.__dict__)
        request_context(request).new_api_keys = [(created, raw_key)]

    def response_add(self, request: HttpRequest, obj: ApiKey, post_url_continue: Any = None) -> Any:
        new_keys = request_context(request).new_api_keys
        if not new_keys:
            return super().response_add(request, obj, post_url_continue)
        # The show-once page stands between the form and where its button said
        # to go next: "Save and add another" and "Save and continue editing"
        # still lead there, after the key has been copied.
        info = (self.opts.app_label, self.opts.model_name)
        if "_addanother" in request.POST:
            next_step = (reverse("admin:{}_{}_add".format(*info)), "add another key")
        elif "_continue" in request.POST:
            next_step = (
                reverse("admin:{}_{}_change".format(*info), args=[obj.pk]),
                "continue editing",
            )
        else:
            next_step = None
        return self._raw_keys_response(
            request, new_keys, title="API key created", next_step=next_step
        )

    def _raw_keys_response(
        self,
        request: HttpRequest,
        new_keys: list[tuple[ApiKey, str]],
        *,
        title: str,
        next_step: tuple[str, str] | None = None,
    ) -> HttpResponse:
        info = (self.opts.app_label, self.opts.model_name)
        changelist_url = reverse("admin:{}_{}_changelist".format(*info))
        next_url, next_label = next_step or (changelist_url, "back to the list")
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": title,
            "new_keys": [
                {
                    "api_key": key,
                    "raw_key": raw,
                    "url": reverse("admin:{}_{}_change".format(*info), args=[key.pk]),
                }
                for key, raw in new_keys
            ],
            "changelist_url": changelist_url,
            "next_url": next_url,
            "next_label": next_label,
        }
        token = shown_once_token()
        view_url = reverse("admin:{}_{}_shown_once".format(*info), args=[token])
        payload = {
            "title": title,
            "keys": [[key.pk, raw] for key, raw in new_keys],
            "next": [next_url, next_label],
        }
        redirect = shown_once_stash(request, payload=payload, view_url=view_url, token=token)
        if redirect is not None:
            return redirect
        return self._raw_keys_page(request, context)

    def _raw_keys_page(
        self, request: HttpRequest, context: dict[str, Any], status: int = 200
    ) -> HttpResponse:
        response = TemplateResponse(request, TEMPLATES + "raw_keys.html", context, status=status)
        response["Cache-Control"] = "no-store"
        return response

    def shown_once_view(self, request: HttpRequest, token: str) -> HttpResponse:
        """The one view of keys just created or rotated; afterwards, "already shown" (410)."""
        info = (self.opts.app_label, self.opts.model_name)
        view_url = reverse("admin:{}_{}_shown_once".format(*info), args=[token])
        changelist_url = reverse("admin:{}_{}_changelist".format(*info))
        # Only the staff user who made the keys can open it (checked in the take).
        payload = shown_once_take(request, token=token) or {}
        shown = payload.get("keys", [])
        keys = {key.pk: key for key in ApiKey.objects.filter(pk__in=[pk for pk, _ in shown])}
        next_url, next_label = payload.get("next") or (changelist_url, "back to the list")
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": payload.get("title", "API keys already shown"),
            "new_keys": [
                {
                    "api_key": keys[pk],
                    "raw_key": raw,
                    "url": reverse("admin:{}_{}_change".format(*info), args=[pk]),
                }
                for pk, raw in shown
                if pk in keys
            ],
            "changelist_url": changelist_url,
            "next_url": next_url,
            "next_label": next_label,
        }
        response = self._raw_keys_page(request, context, status=200 if payload else 410)
        shown_once_forget(response, view_url=view_url)
        return response

    def get_urls(self) -> list[Any]:
        info = (self.opts.app_label, self.opts.model_name)
        own = [
            path(
                "shown-once/<str:token>/",
                self.admin_site.admin_view(self.shown_once_view),
                name="{}_{}_shown_once".format(*info),
            )
        ]
        return own + super().get_urls()

    def _confirm(
        self, request: HttpRequest, queryset: QuerySet, form: forms.Form, *, action: str, title: str
    ) -> HttpResponse:
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": title,
            "form": form,
            "keys": queryset,
            "action": action,
            "action_checkbox_name": ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, TEMPLATES + "confirm_action.html", context)

    @admin.action(description="Revoke selected API keys (cannot be undone)", permissions=["change"])
    def revoke_selected(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        form = RevokeForm(request.POST if "apply" in request.POST else None)
        if not form.is_valid():
            return self._confirm(
                request, queryset, form, action="revoke_selected", title="Revoke API keys"
            )
        revoked, skipped = 0, []
        for key in queryset:
            try:
                api_key_revoke(
                    api_key=key, reason=form.cleaned_data["reason"], revoked_by=request.user
                )
                revoked += 1
            except ProtectionError:
                skipped.append(key.public_id)
        self.message_user(request, f"Revoked {revoked} API key(s).", messages.SUCCESS)
        if skipped:
            self.message_user(
                request, f"Already revoked, left as they were: {', '.join(skipped)}.",
                messages.WARNING,
            )  # fmt: skip
        return None

    @admin.action(
        description="Rotate selected API keys (new keys shown once)", permissions=["change"]
    )
    def rotate_selected(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        form = RotateForm(request.POST if "apply" in request.POST else None)
        if not form.is_valid():
            return self._confirm(
                request, queryset, form, action="rotate_selected", title="Rotate API keys"
            )
        grace = datetime.timedelta(hours=form.cleaned_data["grace_hours"])
        new_keys = []
        for key in queryset:
            try:
                new_keys.append(api_key_rotate(api_key=key, grace=grace, rotated_by=request.user))
            except ProtectionError as exc:
                self.message_user(request, f"{key}: not rotated: {exc.detail}", messages.ERROR)
        if not new_keys:
            return None
        return self._raw_keys_response(request, new_keys, title="API keys rotated")
