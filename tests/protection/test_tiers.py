"""The request pipeline's floor plan holds (what import-linter cannot see).

- only the HTTP edge imports ``django.http``;
- only ``protection.http.context`` keeps state on the request (``_gatehouse…``);
- no service or selector (anything below the edge, in either app) takes a
  ``request`` parameter: they take plain values.
"""

import ast
import tomllib
from pathlib import Path

from tests.support.paths import ROOT


def _edge_modules() -> set[str]:
    """The edge tier, as the import contract in pyproject.toml names it."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    tiers = next(c for c in config["contracts"] if c["type"] == "layers")["layers"]
    names = {name.strip() for name in tiers[0].split(":")}
    return {f"{name}.py" for name in names} | names | {"migrations", "__init__.py"}


EDGE = _edge_modules()
SIGNUP_EDGE = {
    "views.py",
    "confirm_view.py",
    "admin.py",
    "admin_verification.py",
    "apps.py",
    "page.py",
    "management",
    "migrations",
    "urls.py",
}


def _modules(app: str, edge: set[str]) -> list[Path]:
    base = ROOT / app
    return [path for path in base.rglob("*.py") if path.relative_to(base).parts[0] not in edge]


def _trees(paths: list[Path]) -> list[tuple[Path, ast.AST]]:
    return [(path, ast.parse(path.read_text(), str(path))) for path in paths]


BELOW_THE_EDGE = _trees(_modules("protection", EDGE) + _modules("signup", SIGNUP_EDGE))


def test_only_the_edge_imports_django_http():
    offenders = []
    for path, tree in BELOW_THE_EDGE:
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            offenders += [f"{path}: {name}" for name in names if name.startswith("django.http")]
    assert offenders == []


def test_no_service_takes_a_request():
    offenders = []
    for path, tree in BELOW_THE_EDGE:
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                arguments = node.args.args + node.args.kwonlyargs + node.args.posonlyargs
                if any(argument.arg == "request" for argument in arguments):
                    offenders.append(f"{path}: {node.name}")
    assert offenders == []


def test_only_the_context_module_keeps_state_on_the_request():
    offenders = []
    for path in [*(ROOT / "protection").rglob("*.py"), *(ROOT / "signup").rglob("*.py")]:
        if path.name == "context.py" and path.parent.name == "http":
            continue
        if "_gatehouse" in path.read_text():
            offenders.append(str(path))
    assert offenders == []


def test_protection_never_names_signup():
    offenders = []
    for path, tree in _trees(list((ROOT / "protection").rglob("*.py"))):
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("signup"):
                offenders.append(str(path))
            if isinstance(node, ast.Import) and any(
                alias.name.startswith("signup") for alias in node.names
            ):
                offenders.append(str(path))
    assert offenders == []
