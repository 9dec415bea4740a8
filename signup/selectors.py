"""Reads of the signup app. No side effects, no limits: callers enforce those."""

from signup.persons import Person


def person_exists(*, email: str | None = None, phone: str | None = None) -> bool:
    """Whether a person has this normalised email or phone (exactly one given).

    One indexed query either way, so an existing and a missing person cost
    the same: its timing must not answer the question for the caller.
    """
    if (email is None) == (phone is None):
        raise ValueError("Give exactly one of email or phone")
    if email is not None:
        return Person.objects.filter(email=email).exists()
    return Person.objects.filter(phone=phone).exists()
