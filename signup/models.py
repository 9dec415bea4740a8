"""Model registry of the signup app: the models live with the code that owns them."""

from signup.idempotency import IdempotencyRecord
from signup.labels import PersonLabel, PersonLabelBlock
from signup.pending import PendingSignup
from signup.persons import Person
from signup.snapshot import CreationSnapshot

__all__ = [
    "CreationSnapshot",
    "IdempotencyRecord",
    "PendingSignup",
    "Person",
    "PersonLabel",
    "PersonLabelBlock",
]
