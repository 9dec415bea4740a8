"""The reference tables of the docs, generated from the code's own catalogues
on every ``mkdocs build`` (an mkdocs hook, see ``hooks:`` in mkdocs.yml), so
no copy of them is committed and none can drift.

A page asks for a table with a marker line: ``<!-- table: errors -->``,
``<!-- table: settings -->``, ``<!-- table: events -->``, the signatures of a
module's public functions (``<!-- signatures: protection.keys -->``) or the
arguments of a management command (``<!-- options: create_api_key -->``).

- errors: the runtime ``protection.base.exceptions.ERROR_CATALOGUE``, read after
  ``django.setup()`` so codes that apps register from their AppConfig appear.
- settings: the ``DEFAULTS`` dict of each module in ``SETTINGS_CATALOGUES``,
  with the comment block above each key as its description (a key without
  its own comment shares the one of the key before it).
- events: every security event kind the code records, found by reading the
  source (``event_record(kind=...)`` and the helpers that pass ``kind`` on),
  described by ``EVENT_DESCRIPTIONS``; ``tests/test_docs.py`` fails when a
  kind is missing there or described but no longer recorded.
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
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

log = logging.getLogger("mkdocs.plugins.reference_tables")

# (module, title): one line per settings catalogue.
SETTINGS_CATALOGUES: list[tuple[str, str]] = [
    ("protection.conf", "protection"),
    ("signup.conf", "signup"),
]

# Source trees scanned for recorded event kinds.
EVENT_SOURCES = ("protection", "signup")

EVENT_DESCRIPTIONS: dict[str, str] = {
    "admin_locked_out": "django-axes locked a staff login out (too many failures per IP or "
    "per username); `axes_reset` lifts it.",
    "admin_login_failed": "A wrong admin password (the username is kept, never the password).",
    "attestation_failed": "App attestation evidence (Approov, App Check) was missing or not "
    "accepted; reason `<verifier>_<why>`, details name the verifier and device. A "
    "`dry_run` alert when the key's evidence is in observe mode.",
    "attestation_invalid": "An App Attest attestation or assertion was not valid (reason: "
    "why; details: the device's key id).",
    "attestation_replayed": "Attestation evidence was used twice (an App Attest counter that "
    "did not grow, a consumed App Check token, a key id attested again).",
    "attestation_unavailable": "A verifier could not work (not configured, key set "
    "unreachable): an alert, the client got 503.",
    "dpop_binding_mismatch": "A DPoP proof signed by another key than the token is bound to "
    "(a stolen token).",
    "dpop_nonce_required": "A DPoP proof without the server nonce `DPOP_NONCE_REQUIRED` asks for.",
    "dpop_proof_invalid": "A DPoP proof was malformed or did not check (reason: `typ`, `alg`, "
    "`jwk`, `htm`, `htu`, `iat`, `ath`, `signature`…).",
    "dpop_replayed": "A DPoP proof's `jti` was seen before (on any worker).",
    "dpop_required": "A DPoP proof was missing: a bound token sent as Bearer, or a key that "
    "requires `dpop`.",
    "api_key_auth": "A request's API key was refused; the reason is the error code "
    "(`api_key_invalid`, `origin_not_allowed`, `scope_denied`…). Details: public id or "
    "`key_fingerprint`, `origin`, `scope`, query `parameter`; never the key.",
    "api_key_lifecycle": "An API key was created, changed, rotated (on the old key) or revoked. "
    "Details: `by`, and `kind`/`replaces`, `fields`, `successor`/`grace_seconds` or `reason`.",
    "blocked": "A request hit an active block (at most one event per block per process per "
    "minute).",
    "cache_unavailable": "The shared cache (Redis) failed; the limiter falls back as "
    "`RATE_LIMIT_CACHE_FAILURE` says (once per process per minute).",
    "challenge_failed": "A proof-of-work solution was missing, malformed, forged, wrong, expired "
    "or issued to another key (reasons `pow_missing`, `pow_malformed`, `pow_not_ours`, "
    "`pow_expired`, `pow_bad_signature`, `pow_wrong_solution`, `pow_other_key`).",
    "challenge_issued": "The first challenge of each key in each clock hour, with "
    "`details.previous_hour_count` (issuance is counted, not logged per request).",
    "challenge_replayed": "A proof-of-work solution or reCAPTCHA token was presented twice.",
    "client_block_changed": "Staff changed an existing block.",
    "client_blocked": "A block was created or extended (reason: the rule name, or `staff`).",
    "client_unblocked": "A block was lifted (from the admin or `unblock_client`).",
    "enumeration_suspected": "A lookup crossed a distinct-identifiers limit (reason: the "
    "policy, e.g. `lookup_distinct_per_ip`); the `ip-enumeration` rule blocks the IP.",
    "key_abuse_suspected": "A per-key automatic-blocking rule was crossed: the key is never "
    "blocked, its challenge difficulty is raised instead.",
    "person_create_refused": "A create was refused: reason `conflict` (email or phone taken) "
    "or `disposable_email`.",
    "person_created": "A person was created. Details: `person_id` and keyed digests of email "
    "and phone, never the clear text.",
    "rate_limited": "A request was refused with 429 (reason `<group>:<dimensions>` or the "
    "sign-up policy name).",
    "recaptcha_failed": "A reCAPTCHA token was missing or refused (reasons `recaptcha_missing`, "
    "`recaptcha_rejected`, `recaptcha_hostname`, `recaptcha_action`, `recaptcha_low_score`…).",
    "recaptcha_unavailable": "Google could not be asked: `fail_closed` (503) or `fail_open` "
    "(accepted, `RECAPTCHA_FAIL_OPEN`).",
    "refresh_reuse": "A dead refresh token was presented again: the session is revoked.",
    "session_issued": "An anonymous session was issued after its evidence passed.",
    "session_refreshed": "A refresh token was rotated.",
    "session_revoked": "A session was revoked: `client_logout`, `refresh_reuse` or "
    "`admin:<username>`.",
    "token_auth": "An access or refresh token was refused; the reason is the error code "
    "(`token_invalid`, `token_expired`, `session_revoked`…). Never the token.",
}


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


# --- events -------------------------------------------------------------------


@dataclass
class EventKind:
    kind: str
    decisions: set[str] = field(default_factory=set)
    modules: set[str] = field(default_factory=set)


def _call_name(call: ast.Call) -> str | None:
    func = call.func
    return func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)


def _literals(node: ast.expr | None, names: dict[str, list[ast.expr]]) -> set[str] | None:
    """The string values ``node`` can take, or None when they are not all literal."""
    if node is None:
        return None
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    if isinstance(node, ast.IfExp):
        body, orelse = _literals(node.body, names), _literals(node.orelse, names)
        return None if body is None or orelse is None else body | orelse
    if isinstance(node, ast.Name) and node.id in names:
        values: set[str] = set()
        for assigned in names[node.id]:
            found = _literals(assigned, {k: v for k, v in names.items() if k != node.id})
            if found is None:
                return None
            values |= found
        return values
    return None


def _assignments(body: list[ast.stmt]) -> dict[str, list[ast.expr]]:
    names: dict[str, list[ast.expr]] = {}
    for statement in body:
        for node in ast.walk(statement) if not isinstance(statement, ast.FunctionDef) else []:
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        names.setdefault(target.id, []).append(node.value)
    return names


def event_kinds(
    roots: Iterable[Path] = tuple(ROOT / source for source in EVENT_SOURCES),
) -> tuple[dict[str, EventKind], list[str]]:
    """Every event kind recorded in the source, and the calls whose kind is not
    literal (``file:line``), which a reader of the docs could not be told about.

    A module's helpers that pass one of their parameters on as the kind
    (``def _deny(*, kind, ...): event_record(kind=kind, ...)``) count as
    recorders too: their callers' literal kinds are collected instead.
    """
    roots = list(roots)
    base = roots[0].parent if roots else ROOT
    trees = {
        path: ast.parse(path.read_text())
        for root in roots
        for path in sorted(root.rglob("*.py"))
        if "migrations" not in path.parts
    }
    kinds: dict[str, EventKind] = {}
    unresolved: list[str] = []
    for path, tree in trees.items():
        module_names = _assignments(tree.body)
        functions = [f for f in ast.walk(tree) if isinstance(f, ast.FunctionDef)]
        # recorder name -> (the keyword carrying the kind, decisions it records)
        recorders: dict[str, tuple[str, set[str]]] = {"event_record": ("kind", set())}
        changed = True
        while changed:
            changed = False
            for function in functions:
                if function.name in recorders:
                    continue
                parameters = {a.arg for a in function.args.args + function.args.kwonlyargs}
                for call in ast.walk(function):
                    if isinstance(call, ast.Call) and _call_name(call) in recorders:
                        keyword, decisions = recorders[_call_name(call)]
                        values = {k.arg: k.value for k in call.keywords}
                        value = values.get(keyword)
                        if isinstance(value, ast.Name) and value.id in parameters:
                            own = _literals(values.get("decision"), module_names) or set()
                            recorders[function.name] = (value.id, own | decisions)
                            changed = True
        called: set[str] = set()
        for scope in [tree, *functions]:
            names = module_names
            forwarded = None
            if isinstance(scope, ast.FunctionDef):
                names = {**module_names, **_assignments(scope.body)}
                forwarded = recorders.get(scope.name, (None,))[0]
            for statement in scope.body:
                if isinstance(statement, ast.FunctionDef):
                    continue  # its own scope
                for call in ast.walk(statement):
                    if not (isinstance(call, ast.Call) and _call_name(call) in recorders):
                        continue
                    called.add(_call_name(call))
                    keyword, helper_decisions = recorders[_call_name(call)]
                    values = {k.arg: k.value for k in call.keywords}
                    value = values.get(keyword)
                    if isinstance(value, ast.Name) and value.id == forwarded:
                        continue  # a helper passing its own kind on
                    found = _literals(value, names)
                    if not found:
                        unresolved.append(f"{path.relative_to(base)}:{call.lineno}")
                        continue
                    decisions = _literals(values.get("decision"), names) or helper_decisions
                    module = ".".join(path.relative_to(base).with_suffix("").parts)
                    for kind in found:
                        entry = kinds.setdefault(kind, EventKind(kind))
                        entry.decisions |= decisions
                        entry.modules.add(module.removesuffix(".__init__"))
        # A helper called only from other modules: its kinds cannot be seen here.
        for function in functions:
            if function.name in recorders and function.name not in called | {"event_record"}:
                unresolved.append(f"{path.relative_to(base)}:{function.lineno}")
    return kinds, unresolved


def events_table() -> str:
    kinds, unresolved = event_kinds()
    # Warnings fail ``mkdocs build --strict``: the table must not fall behind the code.
    for where in unresolved:
        log.warning("reference_tables: event kind is not a literal at %s", where)
    for kind in sorted(set(kinds) - set(EVENT_DESCRIPTIONS)):
        log.warning("reference_tables: event kind %r has no description", kind)
    for kind in sorted(set(EVENT_DESCRIPTIONS) - set(kinds)):
        log.warning("reference_tables: described event kind %r is no longer recorded", kind)
    rows = ["| kind | decision | what it records | recorded in |", "|---|---|---|---|"]
    for kind in sorted(kinds):
        entry = kinds[kind]
        decisions = ", ".join(sorted(entry.decisions)) or "(varies)"
        modules = ", ".join(f"`{m}`" for m in sorted(entry.modules))
        description = EVENT_DESCRIPTIONS.get(kind, "**undocumented**")
        rows.append(f"| `{kind}` | {decisions} | {_cell(description)} | {modules} |")
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

    return {name: app for name, app in get_commands().items() if app in EVENT_SOURCES}


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

TABLES = {"errors": errors_table, "settings": settings_table, "events": events_table}
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
