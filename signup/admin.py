"""Sign-up data in the admin: people searchable by email/phone, creation metadata
read-only, their labels (with what each blocked) and the actions that label them.

Pending sign-ups and SMS sends per prefix: ``signup.admin_verification``.
"""

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

from protection.admin.display import compact_time, key_label
from signup import admin_verification, normalization
from signup.idempotency import IdempotencyRecord
from signup.labels import REASON_MAX_LENGTH, PersonLabel, person_label
from signup.persons import Person
from signup.snapshot import CreationSnapshot


def _clean(normalize: Any, value: str) -> str:
    try:
        return normalize(value)
    except normalization.InvalidValue as exc:
        raise forms.ValidationError(exc.message, code=exc.code) from exc


class PersonAdminForm(forms.ModelForm):
    """Staff edits keep the canonical forms the unique constraints rely on."""

    class Meta:
        model = Person
        fields = ["email", "phone", "full_name"]

    def clean_email(self) -> str:
        return _clean(normalization.email_normalize, self.cleaned_data["email"])

    def clean_phone(self) -> str | None:
        phone = self.cleaned_data.get("phone")
        return _clean(normalization.phone_normalize, phone) if phone else None

    def clean_full_name(self) -> str:
        return _clean(normalization.full_name_normalize, self.cleaned_data["full_name"])


class LabelActionForm(ActionForm):
    """The persons' action bar, with the reason a label is stored with."""

    reason = forms.CharField(
        required=False,
        max_length=REASON_MAX_LENGTH,
        help_text="why (stored with the label, sent in person.labelled)",
    )


def _label_effects(label: PersonLabel) -> list[SafeString]:
    """What one label did, as HTML fragments: its blocks, what it skipped or lifted."""
    parts = [
        format_html(
            '{} <a href="{}">block {}</a>{}',
            row.target,
            reverse("admin:protection_blockedclient_change", args=[row.block_id]),
            row.block_id,
            "" if row.made else " (extended)",
        )
        for row in label.blocks.order_by("pk")
    ]
    outcome = label.outcome or {}
    parts += [
        format_html("not {}: {}", item["target"], item["why"])
        for item in outcome.get("skipped", [])
    ]
    if outcome.get("lifted"):
        parts.append(format_html("lifted blocks {}", ", ".join(map(str, outcome["lifted"]))))
    if outcome.get("kept"):
        parts.append(format_html("kept blocks {} (shared)", ", ".join(map(str, outcome["kept"]))))
    return parts


@admin.register(Person)
class PersonAdmin(admin.ModelAdmin):
    form = PersonAdminForm
    list_display = ("full_name", "email", "phone", "created", "key", "risk", "label")
    list_filter = (
        ("created_at", admin.DateFieldListFilter),
        "created_by_key",
        "risk",
        "label",
    )
    search_fields = ("email", "phone", "full_name")
    date_hierarchy = "created_at"
    list_select_related = ("created_by_key",)
    readonly_fields = (
        "id",
        "created_at",
        "created_by_key",
        "created_in_session",
        "risk",
        "risk_reasons",
        "label",
        "labelled_at",
        "labels",
        "snapshot",
    )
    fields = ("id", "email", "phone", "full_name", *readonly_fields[1:])
    show_full_result_count = False
    action_form = LabelActionForm
    actions = ["label_fraud", "label_legit"]

    class Media:
        css = {"all": ("protection/admin/lists.css",)}

    @admin.display(description="created", ordering="created_at")
    def created(self, obj: Person) -> str:
        return compact_time(obj.created_at)

    @admin.display(description="API key", ordering="created_by_key__name")
    def key(self, obj: Person) -> str:
        return key_label(obj.created_by_key, 16)

    @admin.display(description="labels (newest first)")
    def labels(self, obj: Person) -> str:
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    label.label,
                    compact_time(label.created_at),
                    label.created_by_name or "-",
                    label.reason or "-",
                    format_html_join(mark_safe("<br>"), "{}", ((p,) for p in effects))
                    if (effects := _label_effects(label))
                    else "-",
                )
                for label in obj.labels.all()
            ),
        )
        if not rows:
            return "none"
        return format_html(
            "<table><tr><th>label</th><th>when</th><th>by</th><th>why</th>"
            "<th>what it did</th></tr>{}</table>",
            rows,
        )

    @admin.display(description="creation snapshot")
    def snapshot(self, obj: Person) -> str:
        data = CreationSnapshot.objects.filter(person=obj).values_list("data", flat=True).first()
        if data is None:
            return "none (purged after PERSON_SIGNALS_RETENTION, or created before snapshots)"
        return format_html("<pre>{}</pre>", json.dumps(data, indent=2, sort_keys=True))

    def _label(self, request: HttpRequest, queryset: QuerySet[Person], label: str) -> None:
        reason = (request.POST.get("reason") or "").strip()
        blocks = lifted = 0
        for person in queryset:
            outcome = person_label(
                person=person, label=label, reason=reason, labelled_by=request.user
            )
            blocks += len(outcome.applied)
            lifted += len(outcome.lifted)
        done = f"blocked {blocks} client(s)" if label == "fraud" else f"lifted {lifted} block(s)"
        self.message_user(
            request, f"Labelled {len(queryset)} person(s) {label}: {done}.", messages.SUCCESS
        )

    @admin.action(
        description="Label fraud (block the session, device and IP they came with)",
        permissions=["change"],
    )
    def label_fraud(self, request: HttpRequest, queryset: QuerySet[Person]) -> None:
        self._label(request, queryset, PersonLabel.Label.FRAUD)

    @admin.action(
        description="Label legit (lift the blocks their fraud labels made)",
        permissions=["change"],
    )
    def label_legit(self, request: HttpRequest, queryset: QuerySet[Person]) -> None:
        self._label(request, queryset, PersonLabel.Label.LEGIT)

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Person], search_term: str
    ) -> tuple[QuerySet[Person], bool]:
        """Also match the normalised form of what staff typed ("(201) 555-0123", "A@X.COM")."""
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        exact: dict[str, Any] = {}
        for field, normalize in (
            ("email", normalization.email_normalize),
            ("phone", normalization.phone_normalize),
        ):
            try:
                exact[field] = normalize(search_term)
            except normalization.InvalidValue:
                continue
        for field, value in exact.items():
            results = results | queryset.filter(**{field: value})
        return results, may_have_duplicates


__all__ = ["IdempotencyRecordAdmin", "PersonAdmin", "admin_verification"]


@admin.register(IdempotencyRecord)
class IdempotencyRecordAdmin(admin.ModelAdmin):
    list_display = ("key", "api_key", "response_status", "created_at", "expires_at")
    list_filter = ("response_status", "api_key")
    search_fields = ("=key",)
    list_select_related = ("api_key",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
