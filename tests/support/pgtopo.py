"""PostgreSQL processes of a test's own: a primary, a streaming replica, a PgBouncer.

initdb, postgres and pgbouncer refuse to run as root (CI runs as root): they
run as the ``postgres`` user (``runuser``) on data directories under a
temporary directory it owns, on free loopback ports. The shared cluster's
``pg_hba.conf`` allows no replication, so the replica test starts its own
primary (initdb's ``trust`` on loopback includes replication).
"""

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from tests.support.nginx import free_port

PG_BIN = Path("/usr/lib/postgresql/15/bin")


def _as_postgres(args: list[str], **kwargs) -> subprocess.CompletedProcess:
    command = ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args
    return subprocess.run(command, capture_output=True, text=True, timeout=120, **kwargs)


def _check(result: subprocess.CompletedProcess, what: str) -> None:
    if result.returncode != 0:
        raise RuntimeError(f"{what} failed: {result.stdout[-2000:]}{result.stderr[-2000:]}")


def psql(port: int, sql: str, database: str = "postgres") -> str:
    result = subprocess.run(
        ["psql", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "-d", database,
         "-tAq", "-c", sql],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    _check(result, f"psql {sql!r}")
    return result.stdout.strip()


class TempRoot:
    """A temporary directory the postgres user owns."""

    def __init__(self, prefix: str) -> None:
        self.path = Path(tempfile.mkdtemp(prefix=prefix))
        if os.geteuid() == 0:
            shutil.chown(self.path, "postgres", "postgres")

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


class Postgres:
    """One postgres server (``pg_ctl``) on a free port with its data in ``directory``."""

    def __init__(self, directory: Path, port: int | None = None) -> None:
        self.directory = directory
        self.port = port or free_port()

    def start(self) -> "Postgres":
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.directory} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        result = _as_postgres(
            [str(PG_BIN / "pg_ctl"), "-D", str(self.directory), "-o", options,
             "-l", str(self.directory / "server.log"), "-w", "-t", "60", "start"],
        )  # fmt: skip
        _check(result, "pg_ctl start")
        return self

    def stop(self, mode: str = "immediate") -> None:
        if (self.directory / "postmaster.pid").exists():
            _as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(self.directory), "-m", mode, "stop"])


def primary_and_replica(root: TempRoot) -> tuple[Postgres, Postgres]:
    """initdb a primary, start it, clone a streaming replica with pg_basebackup, start it."""
    primary = Postgres(root.path / "primary")
    _check(
        _as_postgres(
            [str(PG_BIN / "initdb"), "-D", str(primary.directory), "-U", "postgres",
             "--auth=trust", "--no-sync"],
        ),
        "initdb",
    )  # fmt: skip
    primary.start()
    replica = Postgres(root.path / "replica")
    _check(
        _as_postgres(
            [str(PG_BIN / "pg_basebackup"), "-h", "127.0.0.1", "-p", str(primary.port),
             "-U", "postgres", "-D", str(replica.directory), "-R", "-X", "stream",
             "--no-sync"],
        ),
        "pg_basebackup",
    )  # fmt: skip
    replica.start()
    deadline = time.monotonic() + 30
    while psql(primary.port, "SELECT count(*) FROM pg_stat_replication") != "1":
        if time.monotonic() > deadline:
            raise RuntimeError("the replica never streamed")
        time.sleep(0.1)
    return primary, replica


def wait_replayed(primary: Postgres, replica: Postgres, timeout: float = 30) -> None:
    """Until the replica has replayed everything the primary wrote so far."""
    target = psql(primary.port, "SELECT pg_current_wal_lsn()")
    deadline = time.monotonic() + timeout
    while psql(replica.port, f"SELECT pg_last_wal_replay_lsn() >= '{target}'::pg_lsn") != "t":
        if time.monotonic() > deadline:
            raise RuntimeError("the replica did not catch up")
        time.sleep(0.05)


class PgBouncer:
    """PgBouncer in transaction pooling in front of ``host:port`` (any database)."""

    def __init__(self, root: TempRoot, *, host: str, port: int, pool_size: int = 20) -> None:
        self.root = root
        self.port = free_port()
        self.config = root.path / "pgbouncer.ini"
        users = root.path / "userlist.txt"
        users.write_text('"postgres" ""\n')
        self.config.write_text(
            "[databases]\n"
            f"* = host={host} port={port}\n"
            "[pgbouncer]\n"
            f"listen_addr = 127.0.0.1\nlisten_port = {self.port}\n"
            f"unix_socket_dir = {root.path}\n"
            "auth_type = trust\n"
            f"auth_file = {users}\n"
            "pool_mode = transaction\n"
            f"default_pool_size = {pool_size}\n"
            "max_client_conn = 500\n"
            # A test database is dropped at the end: idle server connections
            # to it must not outlive their use by much.
            "server_idle_timeout = 5\n"
            "ignore_startup_parameters = extra_float_digits,options\n"
            f"logfile = {root.path / 'pgbouncer.log'}\n"
            f"pidfile = {root.path / 'pgbouncer.pid'}\n"
        )
        if os.geteuid() == 0:
            for path in (self.config, users):
                shutil.chown(path, "postgres", "postgres")
        self.process: subprocess.Popen | None = None

    def start(self) -> "PgBouncer":
        command = [shutil.which("pgbouncer") or "pgbouncer", str(self.config)]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        deadline = time.monotonic() + 20
        while True:
            try:
                psql(self.port, "SELECT 1")
                return self
            except RuntimeError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise
                time.sleep(0.1)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, 15)
            self.process.wait(timeout=20)
