"""Two (or more) app hosts on this machine: network namespaces, each with its own gunicorn.

Each host is a namespace ``gh<pid>h<i>`` joined to the root namespace by a
veth pair (root side 10.213.<n+i>.1, host side .2, with n derived from the
process id so two runs on one machine do not share a subnet; private test
addresses on links this module makes and removes). PostgreSQL and Redis listen on
loopback only, so the root namespace forwards ``<root side>:<port>`` to them
(``tests.support.tcpproxy``); every host reaches the same database and cache there.
Needs root and the ``ip`` tool; ``app_hosts`` removes everything in a finally.
"""

import contextlib
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from tests.support.paths import ROOT
from tests.support.servers import url_via
from tests.support.tcpproxy import TcpProxy

APP_PORT = 8000


def netns_available() -> bool:
    return os.geteuid() == 0 and shutil.which("ip") is not None


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


@dataclass
class AppHost:
    name: str
    address: str  # where the host's gunicorn listens
    gateway: str  # the root namespace's side of the link
    process: subprocess.Popen | None = None
    proxies: list[TcpProxy] = field(default_factory=list)

    @property
    def port(self) -> int:
        return APP_PORT


def _link_up(index: int) -> AppHost:
    tag = f"gh{os.getpid() % 100000}h{index}"
    subnet = 10 + (os.getpid() % 60) * 4 + index  # 10..249: a run of its own
    host = AppHost(name=tag, address=f"10.213.{subnet}.2", gateway=f"10.213.{subnet}.1")
    _ip("netns", "add", tag)
    _ip("link", "add", f"{tag}r", "type", "veth", "peer", "name", f"{tag}n")
    _ip("link", "set", f"{tag}n", "netns", tag)
    _ip("addr", "add", f"{host.gateway}/24", "dev", f"{tag}r")
    _ip("link", "set", f"{tag}r", "up")
    _ip("netns", "exec", tag, "ip", "addr", "add", f"{host.address}/24", "dev", f"{tag}n")
    _ip("netns", "exec", tag, "ip", "link", "set", f"{tag}n", "up")
    _ip("netns", "exec", tag, "ip", "link", "set", "lo", "up")
    return host


def _link_down(host: AppHost) -> None:
    for args in (("netns", "del", host.name), ("link", "del", f"{host.name}r")):
        subprocess.run(["ip", *args], capture_output=True)


def _forward(host: AppHost, target_port: int, target_host: str = "127.0.0.1") -> int:
    proxy = TcpProxy(target_host, target_port, listen_host=host.gateway).start()
    host.proxies.append(proxy)
    return proxy.port


def _wait_ready(host: AppHost, timeout: float = 60.0) -> None:
    import http.client

    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        if host.process is not None and host.process.poll() is not None:
            raise RuntimeError(f"gunicorn on {host.name} exited with {host.process.returncode}")
        try:
            connection = http.client.HTTPConnection(host.address, host.port, timeout=2)
            connection.request("GET", "/api/v1/health")
            last = connection.getresponse().status
            if last in (200, 503):
                return
        except OSError as exc:
            last = exc
        time.sleep(0.2)
    raise RuntimeError(f"gunicorn on {host.name} did not become ready (last: {last!r})")


@contextlib.contextmanager
def app_hosts(
    *,
    count: int,
    env: dict[str, str],
    database_port: int,
    redis_port: int,
    redis_db: int = 0,
    database_host: str = "127.0.0.1",
) -> Iterator[list[AppHost]]:
    """Start ``count`` hosts sharing the PostgreSQL of ``env["DATABASE_URL"]``
    (at ``database_host:database_port``) and the Redis on loopback
    ``redis_port`` (a private one, so its db 0 is the test's own); yield them;
    remove everything after."""
    hosts: list[AppHost] = []
    try:
        for index in range(count):
            host = _link_up(index)
            hosts.append(host)
            pg_port = _forward(host, database_port, database_host)
            redis_forward = _forward(host, redis_port)
            database_url = url_via(env["DATABASE_URL"], host=host.gateway, port=pg_port)
            host_env = {
                **os.environ,
                **env,
                "DATABASE_URL": database_url,
                "REDIS_URL": f"redis://{host.gateway}:{redis_forward}/{redis_db}",
                "DJANGO_ALLOWED_HOSTS": ",".join(h.address for h in hosts),
            }
            host.process = subprocess.Popen(
                ["ip", "netns", "exec", host.name, sys.executable, "-m", "gunicorn",
                 "-c", str(ROOT / "config" / "gunicorn.conf.py"), "config.wsgi:application",
                 "--bind", f"{host.address}:{APP_PORT}", "--workers", "2",
                 "--log-level", "warning"],
                cwd=ROOT, env=host_env, start_new_session=True,
            )  # fmt: skip
        for host in hosts:
            _wait_ready(host)
        yield hosts
    finally:
        for host in hosts:
            if host.process is not None and host.process.poll() is None:
                os.killpg(host.process.pid, 15)
                try:
                    host.process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(host.process.pid, 9)
                    host.process.wait()
            for proxy in host.proxies:
                proxy.stop()
            _link_down(host)


class PrivateRedis:
    """A redis-server of this test's own on a loopback port; ``restart()`` loses its data."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.process: subprocess.Popen | None = None

    def start(self) -> "PrivateRedis":
        self.process = subprocess.Popen(
            ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--save", "",
             "--appendonly", "no"],
            stdout=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while (
            subprocess.run(
                ["redis-cli", "-p", str(self.port), "ping"], capture_output=True
            ).stdout.strip()
            != b"PONG"
        ):
            if time.monotonic() > deadline:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()  # a crash: nothing saved
            self.process.wait()

    def restart(self) -> None:
        self.stop()
        self.start()
