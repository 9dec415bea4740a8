"""Policy as a file: a TOML document whose top-level tables are GATEHOUSE settings.

A settings catalogue marks which of its settings are policy, and how a
file's value merges over the value from Python settings (``Policy`` in
``protection.conf.POLICY``; apps pass theirs to ``settings_register``). The
table of a setting is its name in lower case (``[rate_limits.lookup]``,
``[[auto_block_rules]]``, ``rate_limits_observe = [...]``). Merging:

- ``DEEP``: tables merge key by key, recursively; any other value (a list of
  rates, say) replaces. ``[rate_limits.lookup] ip = [...]`` keeps
  ``lookup.key`` and ``lookup.session`` and every other group.
- ``BY_NAME`` (arrays of tables): a table replaces the entry of the same
  ``name``, ``enabled = false`` removes it, a new name is appended.
- ``REPLACE``: the file's value replaces the setting's.

``protection.conf`` reads and merges the file once per process (and again
when settings change), never per request. Nothing here validates values:
each setting's owner does (``Policy.validator``), reported by the system
checks and ``manage.py policy_check``. This module imports nothing of
protection (it sits under ``protection.conf``).
"""

import json
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEEP = "deep"
BY_NAME = "by_name"
REPLACE = "replace"


@dataclass(frozen=True)
class Policy:
    """A setting a policy file may set: how its value merges, and who checks it.

    ``validator`` is the import string of a function
    ``(value, *, base) -> list[PolicyProblem]``: ``value`` is the file's
    value for the setting, ``base`` the setting's value before the file.
    """

    merge: str = REPLACE
    validator: str = ""


@dataclass(frozen=True)
class PolicyProblem:
    """What is wrong at ``path`` inside a setting's value in a policy file
    (``("lookup", "ip")`` in ``rate_limits``; ``(rule name, field)`` in
    ``auto_block_rules``). A warning does not stop start-up."""

    path: tuple[str, ...]
    message: str
    warning: bool = False


class PolicyFileError(ValueError):
    """The policy file cannot be read or is not TOML; the message names the
    file (and, for a syntax error, the line)."""


def policy_file_read(path: str | Path) -> dict[str, Any]:
    """The parsed TOML document at ``path``, or ``PolicyFileError``."""
    try:
        with open(path, "rb") as file:
            return tomllib.load(file)
    except FileNotFoundError:
        raise PolicyFileError(f"policy file {path} does not exist") from None
    except OSError as exc:
        raise PolicyFileError(f"policy file {path} cannot be read: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:  # the message ends "(at line N, column M)"
        raise PolicyFileError(f"policy file {path} is not valid TOML: {exc}") from None


def policy_table(setting: str) -> str:
    """The file's name for a setting: its name in lower case."""
    return setting.lower()


def _merge_deep(base: Any, overlay: Any) -> Any:
    if not (isinstance(base, Mapping) and isinstance(overlay, Mapping)):
        return overlay
    merged = dict(base)
    for key, value in overlay.items():
        merged[key] = _merge_deep(base[key], value) if key in base else value
    return merged


def _merge_by_name(base: Any, overlay: Any) -> Any:
    if not isinstance(overlay, list):
        return overlay
    merged = list(base) if isinstance(base, list | tuple) else []
    for entry in overlay:
        name = entry.get("name") if isinstance(entry, Mapping) else None
        at = next(
            (
                i
                for i, old in enumerate(merged)
                if isinstance(old, Mapping) and old.get("name") == name
            ),
            None,
        )
        if isinstance(entry, Mapping) and entry.get("enabled", True) is False:
            if at is not None and name is not None:
                del merged[at]
            continue
        if isinstance(entry, Mapping):
            entry = {field: value for field, value in entry.items() if field != "enabled"}
        if at is None or name is None:
            merged.append(entry)
        else:
            merged[at] = entry
    return merged


MERGES: dict[str, Callable[[Any, Any], Any]] = {
    DEEP: _merge_deep,
    BY_NAME: _merge_by_name,
    REPLACE: lambda base, overlay: overlay,
}


def policy_merge(base: Any, overlay: Any, *, merge: str) -> Any:
    """``overlay`` (a file's value) merged over ``base``; neither is modified."""
    return MERGES[merge](base, overlay)


def policy_apply(
    values: Mapping[str, Any],
    document: Mapping[str, Any],
    *,
    policy: Mapping[str, Policy],
    default: Callable[[str], Any],
) -> dict[str, Any]:
    """``values`` (the GATEHOUSE dict) with each table of ``document`` that
    names a setting in ``policy`` merged over it. ``default(name)`` is a
    setting's default, for settings ``values`` does not set. Tables that name
    no policy setting are left out (the checks report them)."""
    merged = dict(values)
    for name, spec in policy.items():
        table = policy_table(name)
        if table in document:
            base = values.get(name, default(name))
            merged[name] = policy_merge(base, document[table], merge=spec.merge)
    return merged


# --- writing a policy back as TOML (manage.py policy_show) ----------------------

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def _key(key: Any) -> str:
    return str(key) if _BARE_KEY.match(str(key)) else json.dumps(str(key))


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # JSON's escapes are TOML's
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items()) + " }"
    return "[" + ", ".join(_value(item) for item in value) + "]"


def _is_table_array(value: Any) -> bool:
    return (
        isinstance(value, list | tuple)
        and bool(value)
        and all(isinstance(v, Mapping) for v in value)
    )


def _table(header: list[str], table: Mapping[str, Any]) -> list[str]:
    plain = [
        (k, v) for k, v in table.items() if not isinstance(v, Mapping) and not _is_table_array(v)
    ]
    lines = [f"{_key(k)} = {_value(v)}" for k, v in plain]
    if header and (plain or not table):  # a header only for tables with keys of their own
        lines = ["", f"[{'.'.join(_key(part) for part in header)}]", *lines]
    for key, value in table.items():
        if isinstance(value, Mapping):
            lines += _table([*header, key], value)
        elif _is_table_array(value):
            for entry in value:
                lines += ["", f"[[{'.'.join(_key(part) for part in (*header, key))}]]"]
                lines += [f"{_key(k)} = {_value(v)}" for k, v in entry.items()]
    return lines


def policy_toml(document: Mapping[str, Any]) -> str:
    """``document`` written as TOML (what ``policy_file_read`` reads back)."""
    return "\n".join(_table([], document)).strip() + "\n"
