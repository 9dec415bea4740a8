"""Redis topologies of a test's own: a Cluster, and a primary + replica + 3 sentinels.

Every process is a ``redis-server`` on free loopback ports, with its files
in a temporary directory, killed (a crash, nothing saved) when the test ends.
"""

import random
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path


def free_port() -> int:
    """A free loopback port whose cluster bus port (+10000) is free too."""
    for _ in range(200):
        port = random.randint(20000, 50000)
        try:
            for candidate in (port, port + 10000):
                with socket.socket() as probe:
                    probe.bind(("127.0.0.1", candidate))
        except OSError:
            continue
        return port
    raise RuntimeError("no free port pair")


def redis_cli(port: int, *args: str, timeout: float = 10) -> str:
    result = subprocess.run(
        ["redis-cli", "-p", str(port), *args], capture_output=True, text=True, timeout=timeout
    )
    return result.stdout.strip()


def _wait(predicate, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.1)


class RedisProcess:
    def __init__(self, directory: Path, port: int, *args: str) -> None:
        self.port = port
        self.directory = directory
        self.args = args
        self.process: subprocess.Popen | None = None

    def start(self) -> "RedisProcess":
        self.directory.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--save", "",
             "--appendonly", "no", "--dir", str(self.directory), *self.args],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        _wait(self._ready, f"redis on {self.port}")
        return self

    def _ready(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(f"redis-server on {self.port} exited with {self.process.returncode}")
        return redis_cli(self.port, "ping") == "PONG"

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


class ClusterOfRedis:
    """``primaries`` primaries, each with ``replicas`` replicas (cluster-node-timeout 1 s)."""

    def __init__(self, *, primaries: int = 3, replicas: int = 0) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="gh-redis-cluster-"))
        self.nodes = [
            RedisProcess(self.root / str(i), free_port(), "--cluster-enabled", "yes",
                         "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "1000")
            for i in range(primaries * (1 + replicas))
        ]  # fmt: skip
        self.replicas = replicas

    @property
    def url(self) -> str:
        return "redis://" + ",".join(f"127.0.0.1:{node.port}" for node in self.nodes[:3])

    def start(self) -> "ClusterOfRedis":
        for node in self.nodes:
            node.start()
        addresses = [f"127.0.0.1:{node.port}" for node in self.nodes]
        created = subprocess.run(
            ["redis-cli", "--cluster", "create", *addresses, "--cluster-replicas",
             str(self.replicas), "--cluster-yes"],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        if created.returncode != 0:
            raise RuntimeError(created.stdout + created.stderr)
        _wait(self.healthy, "the cluster to be ok")
        return self

    def healthy(self) -> bool:
        live = [node for node in self.nodes if node.process and node.process.poll() is None]
        return all("cluster_state:ok" in redis_cli(node.port, "cluster", "info") for node in live)

    def primary_ports(self) -> list[int]:
        answer = redis_cli(self.nodes[0].port, "cluster", "nodes")
        if not answer:
            answer = redis_cli(self.nodes[-1].port, "cluster", "nodes")
        return [
            int(line.split()[1].split("@")[0].rsplit(":", 1)[1])
            for line in answer.splitlines()
            if "master" in line.split()[2] and "fail" not in line.split()[2]
        ]

    def node(self, port: int) -> RedisProcess:
        return next(node for node in self.nodes if node.port == port)

    def stop(self) -> None:
        for node in self.nodes:
            node.kill()
        shutil.rmtree(self.root, ignore_errors=True)


class SentinelOfRedis:
    """A primary, a replica and three sentinels watching it as ``service``."""

    def __init__(self, service: str = "gh-primary", down_after_ms: int = 1000) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="gh-redis-sentinel-"))
        self.service = service
        self.down_after_ms = down_after_ms
        self.primary = RedisProcess(self.root / "primary", free_port())
        replica_port = free_port()
        self.replica = RedisProcess(
            self.root / "replica", replica_port, "--replicaof", "127.0.0.1",
            str(self.primary.port),
        )  # fmt: skip
        self.sentinels: list[RedisProcess] = []

    @property
    def url(self) -> str:
        return "redis://" + ",".join(f"127.0.0.1:{s.port}" for s in self.sentinels) + "/0"

    def start(self) -> "SentinelOfRedis":
        self.primary.start()
        self.replica.start()
        _wait(
            lambda: "master_link_status:up" in redis_cli(self.replica.port, "info", "replication"),
            "the replica to sync",
        )
        for index in range(3):
            directory = self.root / f"sentinel{index}"
            directory.mkdir()
            config = directory / "sentinel.conf"
            config.write_text(
                f"sentinel monitor {self.service} 127.0.0.1 {self.primary.port} 2\n"
                f"sentinel down-after-milliseconds {self.service} {self.down_after_ms}\n"
                f"sentinel failover-timeout {self.service} 10000\n"
                f"sentinel parallel-syncs {self.service} 1\n"
            )
            sentinel = RedisProcess(directory, free_port())
            sentinel.args = ()
            self.sentinels.append(sentinel)
            sentinel.directory = directory
            sentinel.process = subprocess.Popen(
                ["redis-server", str(config), "--sentinel", "--bind", "127.0.0.1",
                 "--port", str(sentinel.port), "--dir", str(directory)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
            )  # fmt: skip
            _wait(lambda s=sentinel: redis_cli(s.port, "ping") == "PONG", "a sentinel")
        _wait(
            lambda: all(
                "num-other-sentinels" in redis_cli(s.port, "sentinel", "master", self.service)
                and _other_sentinels(s.port, self.service) >= 2
                for s in self.sentinels
            ),
            "the sentinels to find each other",
        )
        return self

    def primary_port(self) -> int:
        answer = redis_cli(
            self.sentinels[0].port, "sentinel", "get-master-addr-by-name", self.service
        )
        return int(answer.split()[-1])

    def stop(self) -> None:
        for process in [*self.sentinels, self.replica, self.primary]:
            process.kill()
        shutil.rmtree(self.root, ignore_errors=True)


def _other_sentinels(port: int, service: str) -> int:
    fields = redis_cli(port, "sentinel", "master", service).splitlines()
    for name, value in zip(fields[::2], fields[1::2], strict=False):
        if name == "num-other-sentinels":
            return int(value)
    return 0
