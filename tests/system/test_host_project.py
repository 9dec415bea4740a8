"""gatehouse as another DRF project uses it: built, installed, configured by the guide.

Builds the wheel (``pip wheel . --no-deps``), installs it with its
dependencies into a fresh virtualenv (no system site-packages, nothing from
this checkout) once with Django 5.2 LTS (this Python) and once with Django 6
(Python 3.12+: ``python3.12`` on PATH or pyenv's, or GATEHOUSE_PYTHON_312),
makes a project with ``django-admin startproject``, copies the settings,
URL, wsgi and view blocks of docs/integrating.md word for word, keeps DRF's
default exception handler, migrates, and runs tests/support/host_project_check.py in
that virtualenv. Each of its checks is one test here: every refusal kind
(401, 403, 404, 409, 413, 415, 422, 429, 503) is a JSON answer, never a 500.
About a minute per Django version, most of it pip.
"""

import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.support.paths import ROOT

GUIDE = ROOT / "docs" / "integrating.md"
CHECKS = [
    "installed_from_the_wheel",
    "templates_ship_in_the_wheel",
    "default_exception_handler",
    "bad_key_is_401",
    "missing_key_is_401",
    "bad_refresh_token_is_401",
    "failed_proof_of_work_is_403",
    "session_is_an_authenticated_user",
    "scope_denied_is_403",
    "unknown_api_path_is_404",
    "person_lookup_and_create",
    "invalid_body_is_400",
    "email_in_the_url_is_400",
    "taken_address_is_409",
    "body_too_large_is_413",
    "wrong_media_type_is_415",
    "idempotency_key_reused_with_another_body_is_422",
    "limits_are_429_with_headers",
    "lookups_per_session_are_429",
    "unavailable_verifier_is_503",
    "probes_and_metrics_answer",
    "log_lines_carry_the_request_id",
    "admin_pages_render",
    "the_startup_guard_passes",
    "no_500_and_no_html_error_anywhere",
]

pytestmark = pytest.mark.slow

# Django version -> (requirement, how to find a Python for it).
DJANGOS = {
    "5.2": "Django>=5.2,<5.3",
    "6": "Django>=6.0,<7",
}


def python_312() -> str | None:
    """A Python 3.12+ for Django 6: GATEHOUSE_PYTHON_312, pyenv's, or python3.12 on PATH."""
    candidates = [
        os.environ.get("GATEHOUSE_PYTHON_312", ""),
        *sorted(str(p) for p in Path.home().glob(".pyenv/versions/3.1[2-9]*/bin/python")),
        shutil.which("python3.12") or "",  # may be a pyenv shim that refuses: tried last
    ]
    for candidate in filter(None, candidates):
        works = subprocess.run(
            [candidate, "-c", "import sys, venv; assert sys.version_info >= (3, 12)"],
            capture_output=True,
        )
        if works.returncode == 0:
            return candidate
    return None


def python_for(django: str) -> str:
    if django == "5.2":
        return sys.executable
    found = python_312()
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("Django 6 needs Python 3.12+; CI must have one (pyenv 3.12)")
        pytest.skip("Django 6 needs Python 3.12+ (set GATEHOUSE_PYTHON_312)")
    return found


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
    run(sys.executable, "-m", "pip", "wheel", ROOT, "--no-deps", "-q", "-w", dist)
    return next(dist.glob("drf_gatehouse-*.whl"))


@pytest.fixture(scope="module", params=sorted(DJANGOS), ids=lambda v: f"django-{v}")
def host_results(
    request: pytest.FixtureRequest, wheel: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, dict]:
    django = request.param
    base_python = python_for(django)
    work = tmp_path_factory.mktemp(f"host-django-{django}")
    # The venv module of the Python that runs the host (3.12 for Django 6).
    run(base_python, "-m", "venv", work / "venv")
    python = work / "venv" / "bin" / "python"
    run(python, "-m", "pip", "install", "-q", wheel, DJANGOS[django])
    version = run(python, "-c", "import django; print(django.get_version())").strip()
    assert version.startswith(django), version

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
    (host / "hostproj" / "urls.py").write_text(guide_block("urls"))
    (host / "hostproj" / "wsgi.py").write_text(guide_block("wsgi"))
    check = ROOT / "tests" / "support" / "host_project_check.py"
    (host / "check.py").write_text(check.read_text())

    run(python, "manage.py", "check", cwd=host, env=env)
    # Migration-complete: the installed models need no migration the wheel lacks.
    run(python, "manage.py", "makemigrations", "--check", "--dry-run", cwd=host, env=env)
    run(python, "manage.py", "migrate", "-v", "0", cwd=host, env=env)
    output = run(python, "check.py", cwd=host, env=env)
    return json.loads(output.strip().splitlines()[-1])


def test_the_wheel_carries_templates_and_migrations(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    assert "protection/templates/admin/protection/apikey/raw_keys.html" in names
    assert {"protection/py.typed", "signup/py.typed"} <= set(names)
    assert any(name.endswith(".dist-info/licenses/LICENSE") for name in names), names
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
