"""Finding keys the way operators name them (commands take a public id or a
name), and the keys whose stored settings are malformed (system checks)."""

from django.core.exceptions import MultipleObjectsReturned, ObjectDoesNotExist, ValidationError

from protection.core.ratelimit.rates import validate_rate_limit_overrides
from protection.keys.models import ApiKey, ApiKeyStatus


def api_key_find(*, ref: str) -> ApiKey:
    """Return the key whose public id is ``ref``, else the one current key named ``ref``.

    "Current" means active: after a rotation the old key (in grace) shares the
    name with its successor, and names are not unique, so address old,
    expired or revoked keys by public id. Raises ``ObjectDoesNotExist`` or
    ``MultipleObjectsReturned`` with a one-line message.
    """
    ref = ref.strip()
    by_id = ApiKey.objects.filter(public_id=ref).first()
    if by_id is not None:
        return by_id
    named = list(ApiKey.objects.with_status(ApiKeyStatus.ACTIVE).filter(name=ref)[:10])
    if not named:
        hint = " (use the public id for rotated, expired or revoked keys)"
        if not ApiKey.objects.filter(name=ref).exists():
            hint = ""
        raise ObjectDoesNotExist(f"No active API key with public id or name {ref!r}{hint}")
    if len(named) > 1:
        ids = ", ".join(key.public_id for key in named)
        raise MultipleObjectsReturned(
            f"{len(named)} active API keys are named {ref!r} ({ids}); use the public id"
        )
    return named[0]


def api_keys_with_malformed_overrides() -> list[tuple[str, str, str]]:
    """``(public_id, name, problem)`` of each unrevoked key whose stored
    ``rate_limit_overrides`` do not validate (written around the admin's
    validator; requests ignore them). Queries the database."""
    stored = (
        ApiKey.objects.filter(revoked_at__isnull=True)
        .exclude(rate_limit_overrides={})
        .values_list("public_id", "name", "rate_limit_overrides")
    )
    found = []
    for public_id, name, overrides in stored:
        try:
            validate_rate_limit_overrides(overrides)
        except ValidationError as exc:
            found.append((public_id, name, "; ".join(exc.messages)))
    return found
