"""Reads of the signup app. No side effects, no limits: callers enforce those.

``person_exists`` reads from a read replica when one is configured and
healthy (``protection.core.replicas``): a person created less than the
replica's lag ago (at most ``DATABASE_REPLICA_MAX_LAG`` seconds) may read as
missing. That is the lookup's documented trade-off; a create still refuses
a duplicate, since its insert runs on the primary under a unique index.
"""

from protection.core.replicas import replica_read
from signup.persons import Person


def person_exists(*, email: str | None = None, phone: str | None = None) -> bool:
    """Whether a person has this normalised email or phone (exactly one given).

    One indexed query either way, so an existing and a missing person cost
    the same: its timing must not answer the question for the caller.
    """
    if (email is None) == (phone is None):
        raise ValueError("Give exactly one of email or phone")
    if email is not None:
        return replica_read(lambda: Person.objects.filter(email=email).exists())
    return replica_read(lambda: Person.objects.filter(phone=phone).exists())
