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


def test_the_projects_own_templates_stay_out_of_the_wheel():
    # templates/ is config's (error pages, admin branding): not an app's package data.
    assert {"400.html", "403.html", "404.html", "500.html"} <= {
        path.name for path in (ROOT / "templates").iterdir()
    }
    packages = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert packages["packages"]["find"]["include"] == ["protection*", "signup*"]


PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def test_the_docs_install_the_distribution_pyproject_builds():
    # "gatehouse" and "django-gatehouse" on the package index are other projects.
    assert PROJECT["name"] == "drf-gatehouse"
    for doc in ("README.md", "docs/integrating.md"):
        text = (ROOT / doc).read_text()
        assert "pip install drf-gatehouse" in text, doc
        assert "pip install gatehouse" not in text, doc


def test_the_licence_is_bsd_3_clause_and_ships():
    assert PROJECT["license"] == "BSD-3-Clause"
    assert PROJECT["license-files"] == ["LICENSE"]
    assert (ROOT / "LICENSE").read_text().startswith("BSD 3-Clause License")


def test_the_changelog_has_the_version_being_built():
    changelog = (ROOT / "CHANGELOG.md").read_text()
    assert "## [Unreleased]" in changelog
    assert f"## [{PROJECT['version']}] - " in changelog


@pytest.mark.parametrize("package", ["protection", "signup"])
def test_both_packages_say_they_are_typed(package):
    assert (ROOT / package / "py.typed").is_file()
    assert "py.typed" in PACKAGE_DATA[package]


def test_django_5_2_lts_and_6_are_supported():
    django = next(dep for dep in PROJECT["dependencies"] if dep.startswith("Django"))
    assert django == "Django>=5.2,<7"
    assert {"Framework :: Django :: 5.2", "Framework :: Django :: 6.0"} <= set(
        PROJECT["classifiers"]
    )
