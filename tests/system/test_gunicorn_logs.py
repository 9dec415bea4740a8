"""gunicorn's own lines and the application's access line, as the documented config writes them."""

import json
import os
import stat
from pathlib import Path

import pytest

from tests.support.gunicorn import GunicornServer, request

pytestmark = pytest.mark.server


def serve(env: dict[str, str], log: Path, **kwargs) -> GunicornServer:
    return GunicornServer(
        env=env,
        workers=1,
        production_config=True,
        extra_args=("--log-level", "info"),
        stderr=log.open("w"),
        **kwargs,
    )


def test_every_line_is_json_and_each_request_has_one_access_line(env_for, tmp_path):
    log = tmp_path / "stderr.log"
    env = env_for(GATEHOUSE_LOG_LEVEL="INFO", HOME=str(tmp_path))
    env.pop("GATEHOUSE_LOG_FORMAT", None)
    with serve(env, log) as server:
        status, _ = request(server.port, "GET", "/api/v1/health/live?token=secret-value")
        assert status == 200
    lines = [line for line in log.read_text().splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # every line, gunicorn's included
    loggers = {record["logger"] for record in records}
    assert "gunicorn.error" in loggers  # "Starting gunicorn", "Booting worker"
    probes = [
        r
        for r in records
        if r["logger"] == "gatehouse.access" and r["route"] == "api/v1/health/live"
    ]
    assert probes, lines
    line = probes[-1]
    assert (line["http_method"], line["status"], line["client_ip"]) == ("GET", 200, "127.0.0.1")
    assert len(line["request_id"]) == 32 and line["duration_ms"] >= 0
    assert "secret-value" not in log.read_text()


def test_the_control_socket_is_off_unless_this_instance_names_one(env_for, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    env = env_for(HOME=str(home))
    env.pop("XDG_RUNTIME_DIR", None)
    with serve(env, tmp_path / "a.log"):
        pass
    assert not (home / ".gunicorn").exists()  # no shared ~/.gunicorn/gunicorn.ctl

    sockets = [tmp_path / "one.ctl", tmp_path / "two.ctl"]
    first = serve({**env, "GUNICORN_CONTROL_SOCKET": str(sockets[0])}, tmp_path / "b.log")
    second = serve({**env, "GUNICORN_CONTROL_SOCKET": str(sockets[1])}, tmp_path / "c.log")
    with first, second:
        for path in sockets:
            assert stat.S_ISSOCK(os.stat(path).st_mode), path
