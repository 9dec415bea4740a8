"""Environment variables as settings: the ``Env`` declaration and its parsers.

A settings catalogue names, next to its defaults, which keys an environment
variable may set and how its text is read (``protection.conf.ENVIRONMENT``,
``signup.conf.ENVIRONMENT``); the project's own variables (Django's) are
declared the same way in ``config/environment.py``. ``config/settings.py``
reads every variable through its declaration, and the docs' environment
table is generated from the same declarations: one source per variable.

An unset or empty variable means "not set" (the default applies). A value
that does not parse stops start-up with ``ImproperlyConfigured`` naming the
variable (``DJANGO_DEBUG=flase``), never a bare ``ValueError``.
"""

import ipaddress
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ImproperlyConfigured


@dataclass(frozen=True)
class Parser:
    """Reads a variable's text; ``syntax`` is what the docs say it accepts."""

    syntax: str
    parse: Callable[[str], Any]

    def __call__(self, raw: str) -> Any:
        return self.parse(raw)


_TRUE = {"1", "true", "t", "yes", "y", "on"}
_FALSE = {"0", "false", "f", "no", "n", "off"}


def _boolean(raw: str) -> bool:
    value = raw.strip().lower()
    if value in _TRUE | _FALSE:
        return value in _TRUE
    raise ValueError(f"{raw!r} is not a boolean (1/0, true/false, yes/no, on/off)")


def whole_number_from(minimum: int) -> Parser:
    """A whole number of at least ``minimum``."""

    def parse(raw: str) -> int:
        try:
            value = int(raw.strip())
        except ValueError:
            raise ValueError(f"{raw!r} is not a whole number") from None
        if value < minimum:
            raise ValueError(f"{value} is less than {minimum}")
        return value

    return Parser(f"whole number ≥ {minimum}", parse)


def _comma_list(raw: str) -> list[str]:
    return [item.strip() for item in raw.split(",") if item.strip()]


def _networks(raw: str) -> list[str]:
    networks = _comma_list(raw)
    for network in networks:
        try:
            ipaddress.ip_network(network, strict=False)
        except ValueError:
            raise ValueError(f"{network!r} is not an IP network (CIDR like 10.0.0.0/8)") from None
    return networks


def one_of(*choices: str) -> Parser:
    """One of ``choices``, case-insensitive, returned as spelled there."""

    def parse(raw: str) -> str:
        for choice in choices:
            if raw.strip().lower() == choice.lower():
                return choice
        raise ValueError(f"{raw!r} is not one of {', '.join(choices)}")

    return Parser(" or ".join(f"`{choice}`" for choice in choices), parse)


def _positive_number(raw: str) -> float:
    try:
        value = float(raw.strip())
    except ValueError:
        raise ValueError(f"{raw!r} is not a number") from None
    if not value > 0:  # NaN too
        raise ValueError(f"{raw!r} is not a positive number")
    return value


text = Parser("text", lambda raw: raw)
positive_number = Parser("positive number", _positive_number)
boolean = Parser("boolean (1/0, true/false, yes/no, on/off)", _boolean)
whole_number = whole_number_from(0)
comma_list = Parser("comma-separated list", _comma_list)
networks = Parser("comma-separated IP networks (CIDR)", _networks)


@dataclass(frozen=True)
class Env:
    """An environment variable: its name and how its text is read.

    ``prefix=True`` declares a family (``GATEHOUSE_APPROOV_SECRET_<NAME>``):
    every variable starting with ``variable`` gives one entry, the rest of its
    name lower-cased as the key. ``meaning`` and ``default`` document a
    variable that sets no catalogued setting (the project's own); a
    catalogued one is documented by its setting. ``empty_is_value`` keeps an
    empty value instead of treating it as unset.
    """

    variable: str
    parser: Parser = text
    meaning: str = ""
    default: str = ""
    prefix: bool = False
    empty_is_value: bool = False

    @property
    def label(self) -> str:
        return f"{self.variable}<NAME>" if self.prefix else self.variable


_UNSET: Any = object()


def _parse(env: Env, variable: str, raw: str) -> Any:
    try:
        return env.parser(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"Environment variable {variable!r} invalid: {exc}") from None


def env_read(env: Env, default: Any, *, environ: Mapping[str, str] | None = None) -> Any:
    """The parsed value of ``env``'s variable, or ``default`` when it is unset
    (or empty); raises ``ImproperlyConfigured`` naming the variable when it does
    not parse. A ``prefix`` family returns a dict (empty: ``default``)."""
    environ = os.environ if environ is None else environ
    if env.prefix:
        found = {
            name.removeprefix(env.variable).lower(): _parse(env, name, raw)
            for name, raw in sorted(environ.items())
            if name.startswith(env.variable) and raw.strip()
        }
        return found or default
    raw = environ.get(env.variable)
    if raw is None or not (raw.strip() or env.empty_is_value):
        return default
    return _parse(env, env.variable, raw)


def environment_settings(
    environment: Mapping[str, Env],
    defaults: Mapping[str, Any],
    *,
    environ: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Every setting ``environment`` declares: its variable's parsed value when
    set, else ``defaults[name]`` (a catalogue's ``DEFAULTS``, or the project's
    own default for it)."""
    return {
        name: env_read(env, defaults[name], environ=environ) for name, env in environment.items()
    }
