"""The reference tables of the docs, generated from the code's own catalogues
on every ``mkdocs build`` (an mkdocs hook, see ``hooks:`` in mkdocs.yml), so
no copy of them is committed and none can drift.

A page asks for a table with a marker line: ``<!-- table: errors -->``,
``<!-- table: settings -->``, ``<!-- table: environment -->``,
``<!-- table: policy -->``, ``<!-- table: events -->``, ``<!-- table: reasons -->``,
``<!-- table: webhook_events -->``,
the signatures of a
module's public functions (``<!-- signatures: protection.keys -->``) or the
arguments of a management command (``<!-- options: create_api_key -->``).

- errors: the runtime ``protection.base.exceptions.ERROR_CATALOGUE``, read after
  ``django.setup()`` so codes that apps register from their AppConfig appear.
- settings: the ``DEFAULTS`` dict of each module in ``SETTINGS_CATALOGUES``,
  with the comment block above each key as its description (a key without
  its own comment shares the one of the key before it).
- environment: every environment variable, from the declarations that read
  it: the project's own (``config.environment.PROJECT_ENVIRONMENT``) and each
  catalogue's ``ENVIRONMENT`` (a setting's variable, documented by the setting).
- policy: every setting a policy file may set (each catalogue's ``POLICY``,
  with the ones apps register), its table and how it merges.
- events: every declared security event kind (``protection.core.events``;
  ``event_record`` refuses any other), and ``reasons``: the declared reasons
  automatic-blocking rules may match on besides the error codes.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import io
import logging
import os
import pprint
import re
import sys
import tokenize
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

log = logging.getLogger("mkdocs.plugins.reference_tables")

# (module, title): one line per settings catalogue.
SETTINGS_CATALOGUES: list[tuple[str, str]] = [
    ("protection.conf", "protection"),
    ("signup.conf", "signup"),
]

# The apps whose management commands the docs list.
PROJECT_APPS = ("protection", "signup")


def django_setup() -> None:
    """Load Django once, with the project's settings, so catalogues are complete."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django
    from django.apps import apps

    if not apps.ready:
        django.setup()


def _cell(text: str) -> str:
    """``text`` safe in a Markdown table cell: one line, pipes escaped, and
    ``<`` outside code spans escaped so a comment's ``<group>`` stays text."""
    pieces = text.replace("\n", " ").split("`")
    for index in range(0, len(pieces), 2):  # outside code spans
        pieces[index] = pieces[index].replace("<", "&lt;")
    return "`".join(pieces).replace("|", "\\|")


# --- errors -------------------------------------------------------------------


def errors_table() -> str:
    django_setup()
    from protection.base.exceptions import ERROR_CATALOGUE

    rows = ["| status | code | title | detail |", "|---|---|---|---|"]
    for code, spec in sorted(ERROR_CATALOGUE.items(), key=lambda item: item[1].status):
        rows.append(f"| {spec.status} | `{code}` | {_cell(spec.title)} | {_cell(spec.detail)} |")
    return "\n".join(rows)


# --- settings -------------------------------------------------------------------


@dataclass
class SettingDoc:
    name: str
    default_source: str
    description: str


def settings_docs(module_name: str) -> list[SettingDoc]:
    """Each DEFAULTS key of ``module_name``, its default as written and its comment."""
    module = importlib.import_module(module_name)
    source = Path(module.__file__).read_text()
    comments: dict[int, str] = {}
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            comments[token.start[0]] = token.string.lstrip("#").strip()
    defaults = next(
        node.value
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.AnnAssign | ast.Assign)
        and any(
            isinstance(target, ast.Name) and target.id == "DEFAULTS"
            for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
        )
    )
    assert isinstance(defaults, ast.Dict), f"{module_name}.DEFAULTS is not a dict literal"
    docs: list[SettingDoc] = []
    previous = ""
    for key, value in zip(defaults.keys, defaults.values, strict=True):
        assert isinstance(key, ast.Constant), "DEFAULTS keys must be string literals"
        block: list[str] = []
        line = key.lineno - 1
        while line in comments and not comments[line].startswith("---"):
            block.insert(0, comments[line])
            line -= 1
        description = " ".join(block) or previous
        previous = description
        docs.append(SettingDoc(key.value, ast.get_source_segment(source, value) or "", description))
    return docs


def _anchor(name: str) -> str:
    return "default-" + name.lower().replace("_", "-")


def settings_table() -> str:
    django_setup()
    parts: list[str] = []
    for module_name, title in SETTINGS_CATALOGUES:
        module = importlib.import_module(module_name)
        rows = [
            f"### {title} (`{module_name}`)",
            "",
            "| setting | default | meaning |",
            "|---|---|---|",
        ]
        long_defaults: list[str] = []
        for doc in settings_docs(module_name):
            written = " ".join(doc.default_source.split())
            if len(written) <= 40:
                default = f"`{_cell(written)}`"
            else:  # a nested structure: shown evaluated, under the table
                default = f"[below](#{_anchor(doc.name)})"
                long_defaults += [
                    "",
                    f"#### Default `{doc.name}` {{#{_anchor(doc.name)}}}",
                    "",
                    "```python",
                    pprint.pformat(module.DEFAULTS[doc.name], width=88, sort_dicts=False),
                    "```",
                ]
            rows.append(f"| `{doc.name}` | {default} | {_cell(doc.description)} |")
        parts.append("\n".join(rows + long_defaults))
    return "\n\n".join(parts)


# --- environment variables ------------------------------------------------------


def _env_row(env: Any, default: str, meaning: str) -> str:
    return f"| `{env.label}` | {_cell(env.parser.syntax)} | {_cell(default)} | {_cell(meaning)} |"


def _default_text(doc: SettingDoc) -> str:
    written = " ".join(doc.default_source.split())
    if written in ('""', "[]", "{}"):
        return "empty"
    if len(written) <= 40:
        return f"`{written}`"
    return f"[as the setting](#{_anchor(doc.name)})"


def environment_table() -> str:
    """Two tables: the project's variables (Django's, the servers'), then the
    ones that set a GATEHOUSE setting, each described by its setting."""
    django_setup()
    from config.environment import PROJECT_DEFAULTS_DOC, PROJECT_ENVIRONMENT

    header = ["| variable | format | default | meaning |", "|---|---|---|---|"]
    project = [_env_row(env, env.default, env.meaning) for env in PROJECT_ENVIRONMENT]
    settings = []
    for module_name, _ in SETTINGS_CATALOGUES:
        environment = getattr(importlib.import_module(module_name), "ENVIRONMENT", {})
        docs = {doc.name: doc for doc in settings_docs(module_name)}
        for name, env in environment.items():
            doc = docs[name]
            default = PROJECT_DEFAULTS_DOC.get(name) or _default_text(doc)
            settings.append(_env_row(env, default, f'`GATEHOUSE["{name}"]`: {doc.description}'))
    return "\n".join(
        [
            "### Deployment (`config/environment.py`)",
            "",
            *header,
            *project,
            "",
            "### GATEHOUSE settings (each catalogue's `ENVIRONMENT`)",
            "",
            *header,
            *settings,
        ]
    )


# --- policy file ------------------------------------------------------------------

MERGE_TEXT = {
    "deep": "tables merge per key (group, dimension); other values replace",
    "by_name": "by `name`: same name replaces, `enabled = false` removes, a new name adds",
    "replace": "replaces the value",
}


def policy_settings_table() -> str:
    """The settings a policy file may set (``protection.conf.policy_catalogue``)."""
    django_setup()
    from protection.conf import policy_catalogue
    from protection.policyfile import BY_NAME, DEEP, policy_table

    rows = ["| in the file | setting | how it merges |", "|---|---|---|"]
    for name, spec in policy_catalogue().items():
        table = policy_table(name)
        written = {DEEP: f"`[{table}.…]`", BY_NAME: f"`[[{table}]]`"}.get(
            spec.merge, f"`{table} = …`"
        )
        link = f"[`{name}`](settings.md#the-gatehouse-settings-object)"
        rows.append(f"| {written} | {link} | {_cell(MERGE_TEXT[spec.merge])} |")
    return "\n".join(rows)


# --- events -------------------------------------------------------------------


def events_table() -> str:
    """The declared event kinds (``protection.core.events.EVENT_KINDS``, with the
    kinds apps register), which ``event_record`` refuses to go beyond."""
    django_setup()
    from protection.core.events import EVENT_KINDS

    rows = ["| kind | decision | what it records |", "|---|---|---|"]
    for kind in sorted(EVENT_KINDS):
        spec = EVENT_KINDS[kind]
        rows.append(f"| `{kind}` | {', '.join(spec.decisions)} | {_cell(spec.description)} |")
    return "\n".join(rows)


def reasons_table() -> str:
    """The declared reasons (beyond error codes) that automatic-blocking rules match on."""
    django_setup()
    from protection.core.events import EVENT_REASONS

    rows = ["| reason | meaning |", "|---|---|"]
    for reason in sorted(EVENT_REASONS):
        rows.append(f"| `{reason}` | {_cell(EVENT_REASONS[reason])} |")
    return "\n".join(rows)


def webhook_events_table() -> str:
    """The webhook event types (``protection.webhooks.EVENT_TYPES``) and their data."""
    django_setup()
    from protection.webhooks import EVENT_TYPES

    rows = ["| type | when, and its `data` |", "|---|---|"]
    for name, description in EVENT_TYPES.items():
        rows.append(f"| `{name}` | {_cell(description)} |")
    return "\n".join(rows)


# --- Python API signatures ----------------------------------------------------


# ``protection.keys.models.ApiKey`` -> ``ApiKey``, ``collections.abc.Iterable`` -> ``Iterable``
QUALIFIED = re.compile(r"\b(?:[a-z_]\w*\.)+([A-Za-z_]\w*)")


def signatures_list(module_name: str) -> str:
    """The public functions of ``module_name`` (its ``__all__``, else the ones it
    defines), each with its signature and the first paragraph of its docstring."""
    django_setup()
    module = importlib.import_module(module_name)
    names = getattr(module, "__all__", None) or [
        name
        for name, value in vars(module).items()
        if inspect.isfunction(value) and value.__module__ == module_name
    ]
    entries: list[str] = []
    for name in sorted(n for n in names if not n.startswith("_")):
        value = getattr(module, name)
        if not inspect.isfunction(value):
            continue
        signature = QUALIFIED.sub(r"\1", str(inspect.signature(value)))
        doc = (inspect.getdoc(value) or "").split("\n\n")[0].replace("\n", " ")
        entries += [f"`{name}{signature}`", "", f": {doc or '(no docstring)'}", ""]
    return "\n".join(entries).strip()


# --- management command options -------------------------------------------------

# Options every Django command has; the docs list only a command's own.
DJANGO_OPTIONS = {
    "help",
    "version",
    "verbosity",
    "settings",
    "pythonpath",
    "traceback",
    "no_color",
    "force_color",
    "skip_checks",
}


def project_commands() -> dict[str, str]:
    """Management command name -> app, for the commands of this project's apps."""
    django_setup()
    from django.core.management import get_commands

    return {name: app for name, app in get_commands().items() if app in PROJECT_APPS}


def options_table(command: str) -> str:
    """The arguments of ``command``, read from its own argument parser."""
    from django.core.management import load_command_class

    parser = load_command_class(project_commands()[command], command).create_parser(
        "manage.py", command
    )
    rows = ["| argument | default | meaning |", "|---|---|---|"]
    for action in parser._actions:
        if action.dest in DJANGO_OPTIONS:
            continue
        name = " ".join(action.option_strings) or action.dest.upper()
        if action.metavar or action.option_strings and action.nargs != 0:
            name += f" {action.metavar or action.dest.upper()}"
        if action.required:
            default = "required"
        elif action.default not in (None, ""):
            default = f"`{action.default}`"
        else:
            default = "–"
        meaning = action.help or ""
        if action.choices:
            meaning = f"{meaning} (one of {', '.join(f'`{c}`' for c in action.choices)})".strip()
        rows.append(f"| `{name}` | {default} | {_cell(meaning)} |")
    return "\n".join(rows) if len(rows) > 2 else "It takes no arguments."


# --- the mkdocs hook ------------------------------------------------------------


def gate_table() -> str:
    """The gate's steps, in order (``protection.http.gate.STEP_TABLE``)."""
    django_setup()
    from protection.http.gate import STEP_TABLE

    rows = ["| # | step | run by | refuses with |", "|---|---|---|---|"]
    for number, step in enumerate(STEP_TABLE, start=1):
        rows.append(f"| {number} | `{step.name}` | {step.run_by} | {_cell(step.refuses)} |")
    return "\n".join(rows)


TABLES = {
    "gate": gate_table,
    "errors": errors_table,
    "settings": settings_table,
    "environment": environment_table,
    "policy": policy_settings_table,
    "events": events_table,
    "reasons": reasons_table,
    "webhook_events": webhook_events_table,
}
MARKER = re.compile(r"^<!-- (table|signatures|options): ([\w.]+) -->$", re.M)


def _replace(match: re.Match[str]) -> str:
    if match.group(1) == "signatures":
        return signatures_list(match.group(2))
    if match.group(1) == "options":
        return options_table(match.group(2))
    return TABLES[match.group(2)]()


def render(markdown: str) -> str:
    return MARKER.sub(_replace, markdown)


def on_page_markdown(markdown: str, **kwargs: Any) -> str:
    return render(markdown)
