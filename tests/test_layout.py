"""The tests' own floor plan, so `make test-fast` stays fast and helpers stay findable.

- tests mirror the code: ``tests/protection/<package>/``, ``tests/signup/``,
  ``tests/config/``, ``tests/docs/``, ``tests/bench/``; every folder a package;
- every test that starts a process (gunicorn, nginx, Chromium, network
  namespaces, a wheel build) or fuzzes for minutes lives in ``tests/system/``
  and carries its marker (server, browser, netns, slow), which
  ``make test-fast`` deselects; no test elsewhere carries one;
- every helper module lives in ``tests/support/``; a test imports helpers
  from there, never from another test module or a conftest.
"""

import re
from pathlib import Path

from tests.support.paths import ROOT

TESTS = ROOT / "tests"
SYSTEM = TESTS / "system"
SUPPORT = TESTS / "support"
SYSTEM_MARK = re.compile(r"pytest\.mark\.(server|browser|netns|slow)\b")
PROCESS_HELPERS = re.compile(
    r"^\s*(from|import) tests\.support\.(gunicorn|nginx|netns|browser|slowclients)\b", re.M
)
TEST_MODULE_IMPORT = re.compile(r"^\s*from tests\.[\w.]*\b(test_\w+|conftest)\b import", re.M)


def _modules() -> list[Path]:
    return sorted(p for p in TESTS.rglob("*.py") if "__pycache__" not in p.parts)


def _relative(path: Path) -> str:
    return str(path.relative_to(ROOT))


def test_every_test_folder_is_a_package():
    folders = {path.parent for path in _modules()}
    assert [_relative(f) for f in sorted(folders) if not (f / "__init__.py").exists()] == []


def test_helper_modules_live_in_tests_support():
    helpers = [
        _relative(path)
        for path in _modules()
        if not path.name.startswith("test_")
        and path.name not in ("conftest.py", "__init__.py")
        and SUPPORT not in path.parents
    ]
    assert helpers == [], "move helper modules to tests/support/"


def test_process_starting_tests_live_in_tests_system_and_are_marked():
    unmarked = [
        _relative(path)
        for path in sorted(SYSTEM.glob("test_*.py"))
        if not SYSTEM_MARK.search(path.read_text())
    ]
    assert unmarked == [], "mark tests/system/ modules server, browser, netns or slow"
    outside = [
        _relative(path)
        for path in _modules()
        if path.name.startswith("test_")
        and SYSTEM not in path.parents
        and path != Path(__file__)
        and (SYSTEM_MARK.search(path.read_text()) or PROCESS_HELPERS.search(path.read_text()))
    ]
    assert outside == [], "tests that start servers, browsers or namespaces go to tests/system/"


def test_tests_import_helpers_from_tests_support_only():
    offenders = [
        _relative(path) for path in _modules() if TEST_MODULE_IMPORT.search(path.read_text())
    ]
    assert offenders == [], "put what tests share in tests/support/"
