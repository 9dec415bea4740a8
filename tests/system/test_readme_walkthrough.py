"""The README's walk-through, run as written against a server started the way
``make run`` starts one (migrate, quickstart, runserver with DEBUG on, SQLite
and the local-memory cache). Only the base URL differs: the README reads it
from ``$GATEHOUSE``, which this test points at a free port.

The blocks run from a scratch directory holding ``manage.py`` and a
``.venv/bin/python`` that runs this interpreter, so the README's relative
paths work wherever the suite's virtualenv lives.
"""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.paths import ROOT

README = ROOT / "README.md"
JWT = re.compile(r"^[\w-]+\.[\w-]+\.[\w-]+$")

pytestmark = pytest.mark.server


def walkthrough_blocks(text: str) -> list[str]:
    """The ```sh blocks between the walkthrough markers, in order."""
    start = text.index("<!-- walkthrough:start -->")
    end = text.index("<!-- walkthrough:end -->", start)
    return re.findall(r"^```sh\n(.*?)^```$", text[start:end], flags=re.S | re.M)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("walkthrough")
    python = directory / ".venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    python.chmod(0o755)
    (directory / "manage.py").symlink_to(ROOT / "manage.py")
    return directory


@pytest.fixture(scope="module")
def make_run_env(workdir: Path) -> dict[str, str]:
    """make run's environment: DEBUG on, embedded SQLite (here in the scratch
    directory) and the local-memory cache, whatever the suite itself uses."""
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update(
        DJANGO_DEBUG="1",
        DJANGO_SETTINGS_MODULE="config.settings",
        GATEHOUSE_DATA_DIR=str(workdir / "var"),
        PYTHONPATH=str(ROOT),
    )
    return env


@pytest.fixture(scope="module")
def server(workdir: Path, make_run_env: dict[str, str]) -> Iterator[str]:
    def manage(*args: str) -> str:
        done = subprocess.run(
            [".venv/bin/python", "manage.py", *args],
            cwd=workdir,
            env=make_run_env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    manage("migrate", "--no-input", "-v", "0")
    assert manage("quickstart").splitlines()[-1].startswith("gh_pub_")
    port = _free_port()
    process = subprocess.Popen(
        [".venv/bin/python", "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
        cwd=workdir,
        env=make_run_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, "runserver exited"
            try:
                with urllib.request.urlopen(f"{base}/api/v1/health", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                assert time.monotonic() < deadline, "runserver did not answer in 60 s"
                time.sleep(0.2)
        yield base
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=10)


def test_readme_marks_seven_walkthrough_blocks() -> None:
    # key, challenge, session, lookup, create, refresh, logout
    assert len(walkthrough_blocks(README.read_text())) == 7


def test_readme_walkthrough_runs_as_written(
    server: str, workdir: Path, make_run_env: dict[str, str]
) -> None:
    blocks = walkthrough_blocks(README.read_text())
    # One POSIX sh (dash here, not bash: the README promises plain sh) runs every
    # block in order, as a reader pasting them would; after each, a marker
    # line and the variables the walk-through sets.
    script = ["set -eu"]
    for number, block in enumerate(blocks):
        script += [
            block,
            f"echo '::block {number}::'",
            'echo "::vars::" "KEY=${KEY:-}" "ACCESS=${ACCESS:-}" "REFRESH=${REFRESH:-}"',
        ]
    done = subprocess.run(
        ["sh", "-c", "\n".join(script)],
        cwd=workdir,
        env={**make_run_env, "GATEHOUSE": server},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"

    outputs: list[str] = []
    variables: list[dict[str, str]] = []
    rest = done.stdout
    for number in range(len(blocks)):
        output, rest = rest.split(f"::block {number}::\n", 1)
        line, rest = rest.split("\n", 1)
        outputs.append(output)
        variables.append(dict(item.split("=", 1) for item in line.split()[1:]))

    key, challenge, session, lookup, create, refresh, logout = range(7)
    assert variables[key]["KEY"].startswith("gh_pub_")
    assert JWT.match(variables[session]["ACCESS"]) and JWT.match(variables[session]["REFRESH"])

    assert outputs[lookup] == '{"exists":false} -> 200\n'

    body, status = outputs[create].rsplit(" -> ", 1)
    assert status == "201\n"
    person = json.loads(body)
    assert person["full_name"] == "Ada Lovelace"
    assert re.fullmatch(r"ada\.\d+@example\.com", person["email"])

    assert JWT.match(variables[refresh]["ACCESS"])
    assert variables[refresh]["ACCESS"] != variables[session]["ACCESS"]
    assert variables[refresh]["REFRESH"] != variables[session]["REFRESH"]

    logout_status, after = outputs[logout].split("\n", 1)
    assert logout_status == "204"
    body, status = after.rsplit(" -> ", 1)
    assert status == "401\n"
    assert json.loads(body)["code"] == "session_revoked"


def test_tutorial_explains_the_same_commands() -> None:
    """docs/tutorial.md repeats each block to explain it: it must not drift."""
    tutorial = (ROOT / "docs" / "tutorial.md").read_text()

    def commands(block: str) -> str:
        return "\n".join(line for line in block.splitlines() if not line.startswith("#"))

    tutorial_blocks = [
        commands(b) for b in re.findall(r"^```sh\n(.*?)^```$", tutorial, re.S | re.M)
    ]
    for block in walkthrough_blocks(README.read_text()):
        assert commands(block) in tutorial_blocks
