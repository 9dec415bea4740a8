"""What is wrong with a policy file, said in the file's own terms.

A finding names the file, the table and the key, as an operator would look
for them (``policy file /etc/gatehouse/policy.toml, table
[rate_limits.lookup], key "ip": '30/x' is not a rate ...``). Each table is
checked by the validator its setting's catalogue names (``Policy.validator``:
the owner of the setting, e.g. ``protection.core.ratelimit.rates`` or
``protection.policy.rules``), against the setting's value before the file
(defaults < Python settings). Read by the system checks (``protection.checks``)
and by ``manage.py policy_check``.
"""

import difflib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from os import PathLike
from typing import Any

from django.utils.module_loading import import_string

from protection.conf import policy_catalogue, python_setting
from protection.policyfile import (
    BY_NAME,
    Policy,
    PolicyFileError,
    PolicyProblem,
    policy_file_read,
    policy_table,
)

# What a finding is about: the system checks give each its own id.
FILE = "file"  # the file cannot be read or is not TOML
TABLE = "table"  # a top-level table or key that is not a policy setting
VALUE = "value"  # a value its setting's owner refuses


@dataclass(frozen=True)
class PolicyFinding:
    file: str
    about: str  # FILE, TABLE or VALUE
    message: str
    table: str = ""  # "[rate_limits.lookup]", '[[auto_block_rules]] (name "x")'; "" = top level
    key: str = ""
    warning: bool = False

    def __str__(self) -> str:
        where = f"policy file {self.file}"
        if self.about == FILE:
            return self.message  # already names the file
        if self.table:
            where += f", table {self.table}"
        if self.key:
            where += f", key {json.dumps(self.key)}"
        return f"{where}: {self.message}"


def _located(file: str, setting: str, spec: Policy, problem: PolicyProblem) -> PolicyFinding:
    """Where ``problem`` (a path inside ``setting``'s value) sits in the file."""
    name = policy_table(setting)
    path = [str(part) for part in problem.path]
    if spec.merge == BY_NAME:
        table = f"[[{name}]]"
        if path:
            label = path.pop(0)
            table += f" ({label})" if label.startswith("#") else f" (name {json.dumps(label)})"
    else:
        path = [name, *path]
        table = f"[{'.'.join(path[:-1])}]" if len(path) > 1 else ""
        path = path[-1:]
    return PolicyFinding(
        file,
        VALUE,
        problem.message,
        table=table,
        key=".".join(path),
        warning=problem.warning,
    )


def _unknown(file: str, table: str, value: Any, policy: Mapping[str, Policy]) -> PolicyFinding:
    known = sorted(policy_table(name) for name in policy)
    close = difflib.get_close_matches(table.lower(), known, n=1)
    message = "not a policy setting" + (
        f"; did you mean {close[0]}?" if close else f" (policy tables: {', '.join(known)})"
    )
    if isinstance(value, Mapping):
        return PolicyFinding(file, TABLE, message, table=f"[{table}]")
    if isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value):
        return PolicyFinding(file, TABLE, message, table=f"[[{table}]]")
    return PolicyFinding(file, TABLE, message, key=table)


def policy_document_findings(file: str, document: Mapping[str, Any]) -> list[PolicyFinding]:
    """What is wrong with the parsed policy ``document`` read from ``file``."""
    policy = policy_catalogue()
    by_table = {policy_table(name): name for name in policy}
    findings = []
    for table, value in document.items():
        setting = by_table.get(table)
        if setting is None:
            findings.append(_unknown(file, table, value, policy))
            continue
        spec = policy[setting]
        if not spec.validator:
            continue
        validate = import_string(spec.validator)
        for problem in validate(value, base=python_setting(setting)):
            findings.append(_located(file, setting, spec, problem))
    return findings


def policy_file_findings(path: str | PathLike[str]) -> list[PolicyFinding]:
    """What is wrong with the policy file at ``path`` (empty when it is valid):
    one finding if it cannot be read or parsed, else one per problem."""
    file = str(path)
    try:
        document = policy_file_read(file)
    except PolicyFileError as exc:
        return [PolicyFinding(file, FILE, str(exc))]
    return policy_document_findings(file, document)
