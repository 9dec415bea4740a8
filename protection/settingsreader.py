"""Reading GATEHOUSE settings: the settings object over registered catalogues.

``protection.conf`` (and ``signup.conf``) declare catalogues; this module
reads them. ``GatehouseSettings(defaults).NAME`` returns
``settings.GATEHOUSE[NAME]`` with the policy file (``POLICY_FILE``) merged
over it, falling back to the catalogued default. The merged dict is built
(and the file read) once per process and again after ``setting_changed``,
so a request's fifty reads are attribute lookups after the first, and
``override_settings`` works in tests.
"""

import logging
import weakref
from collections.abc import Mapping
from typing import Any

from django.conf import settings as django_settings
from django.core.signals import setting_changed

from protection.policyfile import Policy, PolicyFileError, policy_apply, policy_file_read

logger = logging.getLogger("gatehouse.policy")

# Catalogues of GATEHOUSE keys, by app (name -> defaults; name -> Policy).
REGISTERED_SETTINGS: dict[str, dict[str, Any]] = {}
REGISTERED_POLICY: dict[str, dict[str, Policy]] = {}


class GatehouseSettings:
    """Attribute access to GATEHOUSE settings with documented defaults.

    ``defaults`` is this object's own catalogue; apps built on protection
    make their own instance over the same ``GATEHOUSE`` dict
    (``GatehouseSettings(SIGNUP_DEFAULTS)``) and register its keys with
    ``settings_register`` so the system checks know them.
    """

    def __init__(self, defaults: dict[str, Any]) -> None:
        self._defaults = defaults
        _readers.add(self)

    def __getattr__(self, name: str) -> Any:
        # Only for a name not read since the settings last changed: the value
        # is then kept as an attribute, so a request's fifty reads are plain
        # attribute lookups (``_forget`` drops them on ``setting_changed``).
        defaults = self.__dict__.get("_defaults", {})
        if name not in defaults:
            raise AttributeError(f"Unknown gatehouse setting: {name}")
        value = self.__dict__[name] = _user_settings().get(name, defaults[name])
        return value

    def _forget(self) -> None:
        for name in [name for name in self.__dict__ if name != "_defaults"]:
            del self.__dict__[name]


_readers: "weakref.WeakSet[GatehouseSettings]" = weakref.WeakSet()


_cached_user_settings: Any = None


def _user_settings() -> Any:
    """``settings.GATEHOUSE`` with the policy file merged over it, looked up
    (and the file read) once until the setting changes.

    A request reads about fifty values; going through Django's lazy settings
    object for each was a tenth of a lookup's CPU. ``override_settings`` (and
    pytest-django's ``settings``) send ``setting_changed``, which drops the
    reference, so tests still see every change at once.
    """
    global _cached_user_settings
    if _cached_user_settings is None:
        _cached_user_settings = _with_policy_file(python_settings())
    return _cached_user_settings


def python_settings() -> Any:
    """``settings.GATEHOUSE`` as written in Python settings (no policy file)."""
    return getattr(django_settings, "GATEHOUSE", {}) or {}


def _with_policy_file(values: Any) -> Any:
    path = values.get("POLICY_FILE") if isinstance(values, Mapping) else None
    if not path:
        return values
    try:
        document = policy_file_read(path)
    except PolicyFileError as exc:
        # The system checks refuse to start with it (protection.E100); a
        # settings read must not raise, or every request would fail.
        logger.error("%s: its policy is not applied", exc)
        return values
    return policy_apply(values, document, policy=policy_catalogue(), default=setting_default)


def _settings_changed(*, setting: str, **kwargs: Any) -> None:
    global _cached_user_settings
    if setting == "GATEHOUSE":
        _cached_user_settings = None
        for reader in list(_readers):
            reader._forget()


setting_changed.connect(_settings_changed, dispatch_uid="gatehouse.conf")


def settings_register(
    app: str, defaults: dict[str, Any], *, policy: dict[str, Policy] | None = None
) -> None:
    """Declare another app's ``GATEHOUSE`` keys (from its ``AppConfig.ready``),
    and which of them a policy file may set."""
    global _cached_user_settings
    REGISTERED_SETTINGS[app] = defaults
    REGISTERED_POLICY[app] = policy or {}
    _cached_user_settings = None  # a file's tables for these settings now apply


def known_setting_names() -> set[str]:
    """Every ``GATEHOUSE`` key protection or a registered app reads."""
    return {name for defaults in REGISTERED_SETTINGS.values() for name in defaults}


def setting_default(name: str) -> Any:
    """The catalogued default of ``name`` (protection's or a registered app's)."""
    for defaults in REGISTERED_SETTINGS.values():
        if name in defaults:
            return defaults[name]
    raise KeyError(f"Unknown gatehouse setting: {name}")


def python_setting(name: str) -> Any:
    """``name`` as Python settings have it (or its default), before any policy file."""
    return python_settings().get(name, setting_default(name))


def policy_catalogue() -> dict[str, Policy]:
    """Every setting a policy file may set (protection's and apps'), with its ``Policy``."""
    return {name: spec for policy in REGISTERED_POLICY.values() for name, spec in policy.items()}


def policy_effective() -> dict[str, Any]:
    """Every policy setting's value in force (defaults < settings < file), by table name."""
    values = _user_settings()
    return {name.lower(): values.get(name, setting_default(name)) for name in policy_catalogue()}
