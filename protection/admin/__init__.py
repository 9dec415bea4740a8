"""Admin for the protection app: one module per concern."""

from protection.admin import events  # noqa: F401
from protection.admin import sessions  # noqa: F401
