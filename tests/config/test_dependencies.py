"""Dependencies: ranges in pyproject.toml, exact pins in constraints.txt, and they agree."""

import re
import tomllib

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.support.paths import ROOT

PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def pins() -> dict[str, str]:
    found = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version, f"constraints.txt: {line!r} is not an exact pin"
            found[canonicalize_name(name)] = version
    return found


def test_every_dependency_is_pinned_within_its_range():
    pinned = pins()
    declared = [*PROJECT["dependencies"], *PROJECT["optional-dependencies"]["test"]]
    for text in declared:
        requirement = Requirement(text)
        name = canonicalize_name(requirement.name)
        assert name in pinned, f"{name} has no pin in constraints.txt"
        assert requirement.specifier.contains(pinned[name], prereleases=True), (
            f"{name}=={pinned[name]} is outside {requirement.specifier} (pyproject.toml)"
        )


def test_requests_is_a_test_dependency_only():
    runtime = {canonicalize_name(Requirement(r).name) for r in PROJECT["dependencies"]}
    assert "requests" not in runtime
    importers = [
        str(path.relative_to(ROOT))
        for package in ("protection", "signup", "config")
        for path in (ROOT / package).rglob("*.py")
        if re.search(r"^\s*(import requests|from requests\b)", path.read_text(), re.M)
    ]
    assert importers == []


def test_ruff_is_bounded_and_run_by_make_test():
    ruff = next(
        Requirement(r) for r in PROJECT["optional-dependencies"]["test"] if r.startswith("ruff")
    )
    assert any(spec.operator == "<" for spec in ruff.specifier)
    makefile = (ROOT / "Makefile").read_text()
    recipe = makefile.split("\ntest:", 1)[1].split("\n\n", 1)[0]
    assert "ruff check ." in recipe and "ruff format --check ." in recipe
