"""Model registry of the signup app: the models live with the code that owns them."""

from signup.idempotency import IdempotencyRecord
from signup.pending import PendingSignup
from signup.persons import Person

__all__ = ["IdempotencyRecord", "PendingSignup", "Person"]
