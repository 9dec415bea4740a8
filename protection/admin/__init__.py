"""Admin for the protection app: one module per concern."""

from protection.admin import blocks, events, keys, sessions  # noqa: F401
