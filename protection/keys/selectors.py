"""Finding keys the way operators name them (commands take a public id or a name)."""

from django.core.exceptions import MultipleObjectsReturned, ObjectDoesNotExist

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
