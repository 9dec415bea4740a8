"""Admin for the protection app: one module per concern."""

from protection.admin import blocks, dashboard, events  # noqa: F401
