"""The documentation builds (``mkdocs build --strict``, as ``make test`` runs
it), its generated tables cover the code's catalogues, and what it names
(files, Python objects, environment variables) exists."""

import ast
import importlib
import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.paths import ROOT

DOCS = ROOT / "docs"
PAGES = [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]


def _reference_tables():
    spec = importlib.util.spec_from_file_location("reference_tables", DOCS / "reference_tables.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


reference_tables = _reference_tables()


@pytest.mark.subprocess
def test_docs_build_strict(tmp_path: Path) -> None:
    # No --quiet: with it, mkdocs 1.6 drops the warnings that --strict counts.
    built = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr
    errors_page = (tmp_path / "errors" / "index.html").read_text()
    assert "<code>idempotency_conflict</code>" in errors_page  # the generated table is there


def test_errors_table_lists_every_catalogued_code() -> None:
    from protection.base.exceptions import ERROR_CATALOGUE

    table = reference_tables.errors_table()
    for code, spec in ERROR_CATALOGUE.items():
        assert f"| {spec.status} | `{code}` |" in table


def test_settings_table_documents_every_default() -> None:
    for module_name, _ in reference_tables.SETTINGS_CATALOGUES:
        module = importlib.import_module(module_name)
        docs = reference_tables.settings_docs(module_name)
        assert [doc.name for doc in docs] == list(module.DEFAULTS)
        assert all(doc.description for doc in docs), "a setting without a comment above it"
        table = reference_tables.settings_table()
        for name in module.DEFAULTS:
            assert f"| `{name}` |" in table


def test_every_settings_catalogue_is_rendered() -> None:
    # A new app-level conf.py with DEFAULTS (signup's, say) must be one more
    # line in SETTINGS_CATALOGUES, or its settings would be missing from the docs.
    found = {
        ".".join(path.relative_to(ROOT).with_suffix("").parts)
        for app in ("protection", "signup")
        for path in (ROOT / app).rglob("conf.py")
        if "DEFAULTS" in path.read_text()
    }
    assert found == {module for module, _ in reference_tables.SETTINGS_CATALOGUES}


def test_settings_descriptions_come_from_the_comments() -> None:
    docs = {
        doc.name: doc
        for module_name, _ in reference_tables.SETTINGS_CATALOGUES
        for doc in reference_tables.settings_docs(module_name)
    }
    assert docs["SIGNUP_LOOKUPS_PER_SESSION"].description == (
        "Lookups one anonymous session may make in its whole life."
    )
    # A key without a comment of its own shares the one above it.
    assert docs["SIGNUP_LOOKUP_DISTINCT_PER_KEY_RATE"].description == (
        docs["SIGNUP_LOOKUP_DISTINCT_PER_IP_RATE"].description
    )
    # A section header ("# --- Blocks ---") is not part of a description.
    assert "---" not in docs["BLOCKS_VERSION_CHECK_INTERVAL"].description


def test_events_table_lists_every_declared_kind_and_reason() -> None:
    from protection.core.events import EVENT_KINDS, EVENT_REASONS

    events = reference_tables.events_table()
    reasons = reference_tables.reasons_table()
    assert {"api_key_auth", "person_created"} <= set(EVENT_KINDS)  # signup's are registered
    for kind in EVENT_KINDS:
        assert f"| `{kind}` |" in events
    for reason in EVENT_REASONS:
        assert f"| `{reason}` |" in reasons


def test_an_undeclared_event_kind_is_refused(db) -> None:
    from protection.core.events import event_record

    with pytest.raises(ValueError, match="Undeclared event kind"):
        event_record(kind="made_up_kind", decision="deny")


def test_every_management_command_is_documented() -> None:
    commands_page = (DOCS / "commands.md").read_text()
    commands = reference_tables.project_commands()
    assert {"create_api_key", "purge_expired", "quickstart"} <= set(commands)
    headings = [line for line in commands_page.splitlines() if line.startswith("#")]
    undocumented = [name for name in commands if not any(name in h for h in headings)]
    assert sorted(undocumented) == []


def test_options_table_reads_the_command_parser() -> None:
    table = reference_tables.options_table("rotate_api_key")
    assert "| `--grace GRACE` | `24h` |" in table
    assert "| `KEY` | required |" in table


def _config_environment_variables() -> set[str]:
    """Every variable ``config/`` reads by name, directly or through its declaration."""
    names: set[str] = set()
    for path in (ROOT / "config").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and node.args:
                called = ast.unparse(node.func)
                if called in {"os.environ.get", "os.getenv", "project_env"}:
                    first = node.args[0]
                    if isinstance(first, ast.Constant) and isinstance(first.value, str):
                        names.add(first.value)
            if isinstance(node, ast.Subscript) and ast.unparse(node.value) == "os.environ":
                if isinstance(node.slice, ast.Constant):
                    names.add(node.slice.value)
    return names


def _declared_environment() -> dict[str, str]:
    """Variable (as the docs label it) -> where it is declared."""
    from config.environment import PROJECT_ENVIRONMENT

    declared = {env.label: "config.environment" for env in PROJECT_ENVIRONMENT}
    for module_name, _ in reference_tables.SETTINGS_CATALOGUES:
        for env in importlib.import_module(module_name).ENVIRONMENT.values():
            declared[env.label] = module_name
    return declared


def test_every_variable_config_reads_is_declared() -> None:
    names = _config_environment_variables()
    assert {"DATABASE_URL", "REDIS_URL", "RECAPTCHA_SECRET_KEY", "GUNICORN_BIND"} <= names
    assert sorted(names - set(_declared_environment())) == []


def test_environment_table_lists_every_declared_variable() -> None:
    table = reference_tables.environment_table()
    declared = _declared_environment()
    assert {"GATEHOUSE_TRUSTED_PROXIES", "GATEHOUSE_SIGNUP_PAGE", "DJANGO_DEBUG"} <= set(declared)
    for label in declared:
        assert f"| `{label}` |" in table
    # A catalogued variable is described by its setting, with its parser's syntax.
    row = next(line for line in table.splitlines() if "`GATEHOUSE_TRUSTED_PROXIES`" in line)
    assert "whole number ≥ 0" in row and '`GATEHOUSE["TRUSTED_PROXIES"]`' in row
    assert "How many reverse proxies" in row


def test_policy_table_lists_every_setting_a_policy_file_may_set() -> None:
    from protection.conf import policy_catalogue

    table = reference_tables.policy_settings_table()
    assert {"RATE_LIMITS", "AUTO_BLOCK_RULES", "SIGNUP_CREATE_IP_RATE"} <= set(policy_catalogue())
    for name in policy_catalogue():
        assert f"[`{name}`]" in table
    assert "| `[[auto_block_rules]]` |" in table and "| `[rate_limits.…]` |" in table


def test_every_catalogue_declares_its_environment() -> None:
    for module_name, _ in reference_tables.SETTINGS_CATALOGUES:
        module = importlib.import_module(module_name)
        assert set(module.ENVIRONMENT) <= set(module.DEFAULTS), module_name


PATH = re.compile(r"`((?:\.ci|bench|config|docs|protection|signup|templates|tests)/[\w./-]*\w)`")


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_files_named_in_docs_exist(page: Path) -> None:
    missing = [name for name in PATH.findall(page.read_text()) if not (ROOT / name).exists()]
    assert missing == []


def test_readme_links_point_at_existing_pages() -> None:
    # mkdocs checks the links between docs pages; the README is outside it.
    links = re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", (ROOT / "README.md").read_text())
    assert "docs/tutorial.md" in links
    assert [link for link in links if not (ROOT / link).exists()] == []


DOTTED = re.compile(r"`((?:protection|signup)(?:\.\w+)+)`")
CHECK_ID = re.compile(r"^(?:protection|signup)\.[EW]\d{3}$")


def _resolves(dotted: str) -> bool:
    parts = dotted.split(".")
    for split in range(len(parts), 0, -1):
        try:
            target = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        try:
            for attribute in parts[split:]:
                target = getattr(target, attribute)
        except AttributeError:
            return False
        return True
    return False


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_python_names_in_docs_exist(page: Path) -> None:
    reference_tables.django_setup()
    names = {name for name in DOTTED.findall(page.read_text()) if not CHECK_ID.match(name)}
    assert sorted(name for name in names if not _resolves(name)) == []


def test_the_docs_agree_that_unblock_client_with_nothing_to_lift_exits_0(db) -> None:
    from django.core.management import call_command

    for page in ("commands.md", "metrics-and-logs.md"):
        text = " ".join((DOCS / page).read_text().split())
        assert "nothing to lift` and exits 0" in text, page
        assert "unblock_client` exits non-zero" not in text, page
    call_command("unblock_client", "--ip", "203.0.113.254")  # no block: no CommandError
