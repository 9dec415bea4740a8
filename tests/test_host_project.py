"""gatehouse as another DRF project uses it: built, installed, configured by the guide.

Builds the wheel (``pip wheel . --no-deps``), installs it with its
dependencies into a fresh virtualenv (no system site-packages, nothing from
this checkout), makes a project with ``django-admin startproject``, appends
the settings block of docs/integrating.md word for word, adds the guide's
example view, migrates, and runs tests/host_project/check.py in that
virtualenv. Each of its checks is one test here. About a minute, most of it
pip.
"""

import json
import os
import re
import secrets
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
GUIDE = REPO / "docs" / "integrating.md"
CHECKS = [
    "installed_from_the_wheel",
    "templates_ship_in_the_wheel",
    "bad_key_is_401",
    "missing_key_is_401",
    "session_is_an_authenticated_user",
    "scope_denied_is_403",
    "limits_are_429_with_headers",
    "admin_pages_render",
]

pytestmark = pytest.mark.slow

HOST_URLS = """
from django.contrib import admin
from django.urls import include, path

from hostproj.views import HelloView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include("protection.urls")),
    path("hello/", HelloView.as_view()),
]
"""


def guide_block(name: str) -> str:
    """The fenced Python block between ``<!-- host-NAME:start/end -->`` in the guide."""
    text = GUIDE.read_text()
    match = re.search(
        rf"<!-- host-{name}:start -->\s*```python\n(.*?)```\s*<!-- host-{name}:end -->",
        text,
        re.S,
    )
    assert match, f"docs/integrating.md has no host-{name} block"
    return match.group(1)


def run(*args: object, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        [str(arg) for arg in args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, f"{args}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dist = tmp_path_factory.mktemp("dist")
    run(sys.executable, "-m", "pip", "wheel", REPO, "--no-deps", "-q", "-w", dist)
    return next(dist.glob("drf_gatehouse-*.whl"))


@pytest.fixture(scope="module")
def host_results(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    work = tmp_path_factory.mktemp("host")
    venv.create(work / "venv", with_pip=True, system_site_packages=False)
    python = work / "venv" / "bin" / "python"
    run(python, "-m", "pip", "install", "-q", wheel)

    # Nothing of this checkout or of the outer virtualenv may leak in.
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"PYTHONPATH", "VIRTUAL_ENV", "DJANGO_SETTINGS_MODULE"}
        and not key.startswith(("DJANGO_", "GATEHOUSE_", "DATABASE_", "REDIS_"))
    }
    env["GATEHOUSE_SIGNING_KEY"] = secrets.token_urlsafe(48)  # made here, never committed
    env["PATH"] = f"{python.parent}{os.pathsep}{env.get('PATH', '')}"

    host = work / "host"
    host.mkdir()
    run(python.parent / "django-admin", "startproject", "hostproj", host, env=env)
    settings = host / "hostproj" / "settings.py"
    settings.write_text(settings.read_text() + "\n\n" + guide_block("settings"))
    (host / "hostproj" / "views.py").write_text(guide_block("views"))
    (host / "hostproj" / "urls.py").write_text(HOST_URLS)
    (host / "check.py").write_text((REPO / "tests" / "host_project" / "check.py").read_text())

    run(python, "manage.py", "check", cwd=host, env=env)
    # Migration-complete: the installed models need no migration the wheel lacks.
    run(python, "manage.py", "makemigrations", "--check", "--dry-run", cwd=host, env=env)
    run(python, "manage.py", "migrate", "-v", "0", cwd=host, env=env)
    output = run(python, "check.py", cwd=host, env=env)
    return json.loads(output.strip().splitlines()[-1])


def test_the_wheel_carries_templates_and_migrations(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    assert "protection/templates/admin/protection/apikey/raw_keys.html" in names
    assert "protection/migrations/0001_initial.py" in names
    assert "signup/migrations/0001_initial.py" in names
    # Only the apps: a top-level "config" would shadow a host's settings package.
    top_level = {name.split("/")[0] for name in names}
    assert {name for name in top_level if not name.endswith(".dist-info")} == {
        "protection",
        "signup",
    }


@pytest.mark.parametrize("name", CHECKS)
def test_host_project(host_results: dict[str, dict], name: str) -> None:
    result = host_results[name]
    assert result["ok"], result["detail"]


def test_every_check_ran(host_results: dict[str, dict]) -> None:
    assert sorted(host_results) == sorted(CHECKS)
