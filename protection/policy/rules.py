"""The schema of an automatic-blocking rule (``AUTO_BLOCK_RULES`` entries).

Owned here, next to the rules' engine (``protection.policy.autoblock``), and
read by the system checks (``protection.checks``, for the rules in Python
settings) and by the policy file's validation (``[[auto_block_rules]]``
tables), so both say the same thing about the same rule. A rule's ``kinds``
must each be a declared event kind or a declared reason
(``protection.core.events``): a typo would otherwise match nothing, forever.
"""

from collections.abc import Mapping
from typing import Any

from protection.core.events import event_kind_declared, event_reason_declared
from protection.policyfile import PolicyProblem

AUTO_BLOCK_DIMENSIONS = ("ip", "session", "device", "key")
# field -> (required, smallest value); all whole numbers except escalation.
_RULE_NUMBERS = {
    "threshold": (True, 1),
    "window": (True, 1),
    "duration": (True, 1),
    "escalation": (False, 1),
    "max_duration": (False, 1),
    "difficulty_boost": (False, 1),
}
_RULE_FIELDS = {"name", "dimension", "kinds", "dry_run", *_RULE_NUMBERS}
NAME_MAX_LENGTH = 64


def _is_number(value: Any, *, whole: bool) -> bool:
    if isinstance(value, bool):  # True is an int to Python, never a threshold to a reader
        return False
    return isinstance(value, int) or (not whole and isinstance(value, float))


def _kinds_problems(kinds: Any) -> list[tuple[str, str]]:
    if (
        not isinstance(kinds, list | tuple)
        or not kinds
        or not all(isinstance(kind, str) and kind for kind in kinds)
    ):
        return [("kinds", "a non-empty list of event kinds or reasons")]
    return [
        ("kinds", f"{kind!r} is neither a declared event kind nor a declared reason")
        for kind in kinds
        if not (event_kind_declared(kind) or event_reason_declared(kind))
    ]


def auto_block_rule_field_problems(rule: Any) -> list[tuple[str, str]]:
    """``(field, what is wrong)`` for one rule; empty when it is well formed.

    An unknown field is reported as ``(field, "unknown field")``; a rule that
    is not an object as ``("", ...)``.
    """
    if not isinstance(rule, Mapping):
        return [("", "expected an object with name, dimension, kinds, threshold, window, duration")]
    problems = [(str(field), "unknown field") for field in sorted(set(rule) - _RULE_FIELDS)]
    name = rule.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > NAME_MAX_LENGTH:
        problems.append(("name", f"a non-empty string of at most {NAME_MAX_LENGTH} characters"))
    if rule.get("dimension") not in AUTO_BLOCK_DIMENSIONS:
        problems.append(
            (
                "dimension",
                f"{rule.get('dimension')!r} is not one of {', '.join(AUTO_BLOCK_DIMENSIONS)}",
            )
        )
    problems += _kinds_problems(rule.get("kinds"))
    for field, (required, minimum) in _RULE_NUMBERS.items():
        if field not in rule:
            if required:
                problems.append((field, "missing"))
            continue
        value = rule[field]
        if not _is_number(value, whole=field != "escalation") or value < minimum:
            kind = "a number" if field == "escalation" else "a whole number"
            problems.append((field, f"{value!r} is not {kind} of at least {minimum}"))
    if (
        _is_number(rule.get("max_duration"), whole=True)
        and _is_number(rule.get("duration"), whole=True)
        and rule["max_duration"] < rule["duration"]
    ):
        problems.append(("max_duration", "smaller than duration"))
    if "dry_run" in rule and not isinstance(rule["dry_run"], bool):
        problems.append(("dry_run", f"{rule['dry_run']!r} is not true or false"))
    if "difficulty_boost" in rule and rule.get("dimension") != "key":
        problems.append(("difficulty_boost", "only rules on the key dimension raise difficulty"))
    return problems


def auto_block_rule_problems(rule: Any) -> list[str]:
    """Return what is wrong with one AUTO_BLOCK_RULES entry (empty when it is well formed)."""
    return [
        f"{message} {field!r}"
        if message == "unknown field"
        else (f"{field}: {message}" if field else message)
        for field, message in auto_block_rule_field_problems(rule)
    ]


def auto_block_rules_problems(rules: list[Any] | tuple[Any, ...]) -> list[tuple[str, list[str]]]:
    """``(where, problems)`` for each malformed rule of an AUTO_BLOCK_RULES list,
    ``where`` like ``AUTO_BLOCK_RULES[1] ('name')``; a name used twice is a
    problem too (escalation counts blocks by rule name)."""
    found = []
    names: set[str] = set()
    for index, rule in enumerate(rules):
        label = rule.get("name") if isinstance(rule, Mapping) else None
        where = f"AUTO_BLOCK_RULES[{index}]" + (f" ({label!r})" if label else "")
        problems = auto_block_rule_problems(rule)
        if isinstance(label, str) and label in names:
            problems.append("name: used by an earlier rule (escalation counts by name)")
        names.add(label if isinstance(label, str) else "")
        if problems:
            found.append((where, problems))
    return found


def auto_block_rules_policy_problems(value: Any, *, base: Any) -> list[PolicyProblem]:
    """What is wrong with the ``[[auto_block_rules]]`` tables of a policy file.

    Each table replaces the rule of the same name in ``base`` (the rules
    before the file), adds a rule under a new name, or, with
    ``enabled = false``, removes the rule of that name (only ``name`` is
    needed then; a name that matches no rule is a warning: nothing is removed).
    A problem's path is ``(rule name or "#<index>", field)``.
    """
    if not isinstance(value, list) or not all(isinstance(rule, Mapping) for rule in value):
        return [PolicyProblem((), "expected an array of tables ([[auto_block_rules]])")]
    existing = {
        rule["name"]
        for rule in (base if isinstance(base, list | tuple) else [])
        if isinstance(rule, Mapping) and isinstance(rule.get("name"), str)
    }
    problems: list[PolicyProblem] = []
    seen: set[str] = set()
    for index, rule in enumerate(value):
        name = rule.get("name")
        label = name if isinstance(name, str) and name else f"#{index + 1}"
        enabled = rule.get("enabled", True)
        if not isinstance(enabled, bool):
            problems.append(PolicyProblem((label, "enabled"), f"{enabled!r} is not true or false"))
        if isinstance(name, str) and name in seen:
            problems.append(PolicyProblem((label, "name"), "used by an earlier table of this file"))
        seen.add(label)
        if enabled is False:
            if not isinstance(name, str) or not name:
                problems.append(PolicyProblem((label, "name"), "needed to remove a rule"))
            elif name not in existing:
                problems.append(
                    PolicyProblem(
                        (label, "enabled"),
                        f"no rule named {name!r} to remove (rules: {', '.join(sorted(existing))})",
                        warning=True,
                    )
                )
            continue
        fields = {field: v for field, v in rule.items() if field != "enabled"}
        for field, message in auto_block_rule_field_problems(fields):
            problems.append(PolicyProblem((label, field) if field else (label,), message))
    return problems
