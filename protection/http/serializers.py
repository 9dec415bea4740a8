"""Request serializers that accept exactly what the OpenAPI document says.

``StrictSerializer`` refuses unknown fields (400 ``invalid_request``, field
code ``unknown``) instead of dropping them silently, refuses a number or a
boolean where the document says string (DRF's ``CharField`` would quietly
turn ``123`` into ``"123"``), and, when a subclass
names ``exactly_one_of``, requires exactly one of those fields. The schema
generator (``protection.openapi``) reads the same two facts to write
``additionalProperties: false`` and a ``oneOf``, so the document and the
server cannot disagree.
"""

from collections.abc import Mapping
from typing import Any, ClassVar

from rest_framework import serializers


class StrictSerializer(serializers.Serializer):
    """Refuses unknown fields, and enforces ``exactly_one_of`` when set."""

    # Field names of which a valid body carries exactly one (empty: no such rule).
    exactly_one_of: ClassVar[tuple[str, ...]] = ()
    # Alternative sets of fields: a valid body carries every field of exactly
    # one set and no other field of any set (empty: no such rule). E.g.
    # (("email", "code"), ("token",)): a code with its address, or a token alone.
    one_of_field_sets: ClassVar[tuple[tuple[str, ...], ...]] = ()

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            wrong = {
                name: [serializers.ErrorDetail("Must be a string.", code="invalid")]
                for name, field in self.fields.items()
                if isinstance(field, serializers.CharField)
                and name in data
                and data[name] is not None
                and not isinstance(data[name], str)
            }
            if wrong:
                raise serializers.ValidationError(wrong)
        return super().to_internal_value(data)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        # A body that is not a JSON object fails earlier, in to_internal_value.
        initial = self.initial_data if isinstance(self.initial_data, Mapping) else {}
        unknown = sorted(set(initial) - set(self.fields))
        if unknown:
            raise serializers.ValidationError(
                {
                    str(name)[:64]: serializers.ErrorDetail("Unknown field.", code="unknown")
                    for name in unknown
                }
            )
        if self.exactly_one_of:
            present = [name for name in self.exactly_one_of if name in attrs]
            if len(present) != 1:
                names = " or ".join(self.exactly_one_of)
                raise serializers.ValidationError(
                    f"Send exactly one of {names}.", code="one_identifier"
                )
        if self.one_of_field_sets and field_set_matches(self.one_of_field_sets, attrs) != 1:
            shapes = ", or ".join(" and ".join(fields) for fields in self.one_of_field_sets)
            raise serializers.ValidationError(f"Send {shapes}.", code="one_field_set")
        return attrs


def field_set_matches(field_sets: tuple[tuple[str, ...], ...], present: Any) -> int:
    """How many of ``field_sets`` the fields ``present`` match exactly (all of the
    set, nothing else of any set)."""
    named = {name for fields in field_sets for name in fields}
    found = {name for name in present if name in named}
    return sum(1 for fields in field_sets if set(fields) == found)
