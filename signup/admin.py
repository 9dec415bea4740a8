"""Sign-up data in the admin: people searchable by email/phone, creation metadata read-only.

Pending sign-ups and SMS sends per prefix: ``signup.admin_verification``.
"""

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from protection.admin.display import compact_time, key_label
from signup import admin_verification, normalization
from signup.idempotency import IdempotencyRecord
from signup.persons import Person


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


@admin.register(Person)
class PersonAdmin(admin.ModelAdmin):
    form = PersonAdminForm
    list_display = ("full_name", "email", "phone", "created", "key", "risk")
    list_filter = (("created_at", admin.DateFieldListFilter), "created_by_key", "risk")
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
    )
    fields = ("id", "email", "phone", "full_name", *readonly_fields[1:])
    show_full_result_count = False

    class Media:
        css = {"all": ("protection/admin/lists.css",)}

    @admin.display(description="created", ordering="created_at")
    def created(self, obj: Person) -> str:
        return compact_time(obj.created_at)

    @admin.display(description="API key", ordering="created_by_key__name")
    def key(self, obj: Person) -> str:
        return key_label(obj.created_by_key, 16)

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
