"""The apps ship their templates and static files: pyproject's package data covers them.

(Checked against the files, since building a wheel here would need the network;
`pip wheel .` lists the same files.)
"""

import tomllib

import pytest

from tests.support.paths import ROOT

PACKAGE_DATA = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
    "package-data"
]


@pytest.mark.parametrize("package", ["protection", "signup"])
def test_every_template_and_static_file_is_package_data(package):
    base = ROOT / package
    shipped = {path for pattern in PACKAGE_DATA[package] for path in base.glob(pattern)}
    needed = {
        path
        for folder in ("templates", "static")
        for path in (base / folder).rglob("*")
        if path.is_file()
    }
    assert needed, f"{package} has no templates or static files?"
    assert needed <= shipped, sorted(str(p.relative_to(ROOT)) for p in needed - shipped)


def test_the_project_has_no_template_folder_of_its_own():
    assert not (ROOT / "templates").exists()
