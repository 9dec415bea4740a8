"""Run nginx in front of a test server with the shipped ``deploy/nginx.conf.template``.

The template is rendered as the docs say (``GATEHOUSE_LISTEN``,
``GATEHOUSE_UPSTREAM``; its access log moved into the temp directory) and
included in a minimal main config whose pid, logs and temporary files live
in a temp directory, so the test needs no
system nginx setup, only the binary (``apt-get install nginx-light``).
"""

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path
from string import Template

from tests.support.paths import ROOT

TEMPLATE = ROOT / "deploy" / "nginx.conf.template"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"

MAIN_CONFIG = """\
worker_processes 2;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {dir}/client_body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    include {dir}/gatehouse.conf;
}}
"""


def nginx_available() -> bool:
    return os.path.exists(NGINX)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


class NginxServer:
    """nginx on a free loopback port, proxying to ``upstream`` (host:port)."""

    def __init__(self, *, upstream: str, directory: Path) -> None:
        self.port = free_port()
        self.directory = directory
        rendered = Template(TEMPLATE.read_text()).safe_substitute(
            GATEHOUSE_LISTEN=f"127.0.0.1:{self.port}", GATEHOUSE_UPSTREAM=upstream
        )
        # The template's access log, kept in the temp directory (self.access_log).
        rendered = rendered.replace("/var/log/nginx/", f"{directory}/")
        self.access_log = directory / "gatehouse.access.log"
        (directory / "gatehouse.conf").write_text(rendered)
        (directory / "nginx.conf").write_text(MAIN_CONFIG.format(dir=directory))
        self.process = subprocess.Popen(
            [NGINX, "-p", str(directory), "-c", str(directory / "nginx.conf"), "-g", "daemon off;"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )

    def wait_ready(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"nginx exited: {self.process.stderr.read().decode()[-2000:]}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("nginx did not start")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()  # SIGTERM: fast shutdown of master and workers
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, 9)
                self.process.wait()

    def __enter__(self) -> "NginxServer":
        self.wait_ready()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
