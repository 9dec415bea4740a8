"""Admin for the protection app: one module per concern."""

from protection.admin import app_attest, blocks, events, keys, outbox, sessions, webhooks  # noqa: F401
