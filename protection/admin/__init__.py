"""Admin for the protection app: one module per concern."""

from protection.admin import app_attest, blocks, events, keys, sessions  # noqa: F401
