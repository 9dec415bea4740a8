"""Checkouts of gatehouse the lookup bench serves rows from: this worktree and,
with ``--baseline-dir``, an older commit's (``git worktree add --detach DIR COMMIT``).

A tree is driven only through its own ``manage.py`` and its own gunicorn,
each started in the tree's directory with ``PYTHONPATH`` set to it: nothing
here imports the tree's code, so a tree whose modules have moved (the
pre-restructure ``protection.exceptions``, …) runs its own code and its own
``tests.support.server_settings``. ``Tree.prepare`` checks that the code a tree
imports really is its own before anything is measured.

Every server of a tree shares the tree's database and secrets (so the keys
and the block made here apply to all of them) and gets a cache prefix of its
own (its counters start empty). It trusts one proxy hop (its peer, wrk on
127.0.0.1, is in the default ``TRUSTED_PROXY_NETWORKS``), so each row names
its client address in ``X-Forwarded-For``, and its public base URL is the
one the bench's DPoP proofs name in ``htu``.
"""

import json
import os
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.gunicorn import GunicornServer, server_env

HUGE = ["100000000/m"]  # gatehouse rates take at most 9 digits
UNLIMITED_SIGNUP = {
    "SIGNUP_LOOKUPS_PER_SESSION": 10**12,
    "SIGNUP_LOOKUP_IDENTIFIER_RATE": HUGE[0],
    "SIGNUP_LOOKUP_DISTINCT_PER_IP_RATE": HUGE[0],
    "SIGNUP_LOOKUP_DISTINCT_PER_KEY_RATE": HUGE[0],
}
GROUPS = ("challenge", "session", "refresh", "lookup", "create")
# The "limited" server's per-IP lookup limit: an address that spent it stays
# refused for the rest of the day (a window that ends mid-run lets one
# request through, which the table would show as an unexpected answer).
OVER_BUDGET_RATE = "1/d"
SECRETS = ("DJANGO_SECRET_KEY", "GATEHOUSE_SIGNING_KEY")
# Prints the checkout each of the tree's packages is imported from.
WHERE_FROM = (
    "import pathlib, protection, signup; "
    "print(*(pathlib.Path(m.__file__).resolve().parent.parent for m in (protection, signup)))"
)
PUBLIC_BASE_URL = "https://signup-api.example.com"  # tests.support.dpop.BASE_URL


def bench_server_env(
    database_url: str,
    redis_url: str,
    *,
    root: Path,
    lookup_ip: list[str] | None = None,
    settings: dict | None = None,
) -> dict[str, str]:
    """A bench server's environment: every limit huge (business limits too, so
    the served rows answer 200), the lookup's per-IP limit ``lookup_ip`` if
    given, and ``settings`` over the GATEHOUSE entries."""
    env = server_env(
        database_url=database_url,
        redis_url=redis_url,
        cache_prefix=f"bench-{uuid.uuid4().hex}",
        root=root,
    )
    limits = {group: {"ip": HUGE, "key": HUGE, "session": HUGE} for group in GROUPS}
    if lookup_ip is not None:
        limits["lookup"]["ip"] = lookup_ip
    env["GATEHOUSE_TEST_RATE_LIMITS"] = json.dumps(limits)
    env["GATEHOUSE_TEST_SETTINGS"] = json.dumps({**UNLIMITED_SIGNUP, **(settings or {})})
    for name in SECRETS:
        # The ones this process uses to mint tokens, when it has set them.
        env[name] = os.environ.get(name) or env[name]
    return env


@dataclass
class Tree:
    """One checkout: ``label`` suffixes its rows' names ("" for this worktree)."""

    label: str
    root: Path
    database_url: str
    redis_url: str
    # Settings over every server's GATEHOUSE entries (e.g. DPOP_IAT_WINDOW).
    settings: dict = field(default_factory=dict)

    def env(self, *, lookup_ip: list[str] | None = None) -> dict[str, str]:
        env = bench_server_env(
            self.database_url,
            self.redis_url,
            root=self.root,
            lookup_ip=lookup_ip,
            settings=self.settings,
        )
        env["GATEHOUSE_TRUSTED_PROXIES"] = "1"
        env["GATEHOUSE_PUBLIC_BASE_URL"] = PUBLIC_BASE_URL
        if not (self.root / "tests" / "support" / "server_settings.py").is_file():
            # A tree from before the test helpers moved to tests/support/.
            env["DJANGO_SETTINGS_MODULE"] = "tests.server_settings"
        return env

    def suffix(self, name: str) -> str:
        """A row's name for this tree: ``protected``, or ``protected@before``."""
        return f"{name}@{self.label}" if self.label else name

    def manage(self, *args: str) -> str:
        """Run the tree's ``manage.py`` with its own code and settings; its stdout."""
        command = [sys.executable, str(self.root / "manage.py"), *args]
        done = subprocess.run(
            command,
            cwd=self.root,
            env={**os.environ, **self.env()},
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            raise RuntimeError(
                f"{self.root}: manage.py {' '.join(args)} failed:\n{done.stderr[-2000:]}"
            )
        return done.stdout

    def prepare(self) -> None:
        """Migrate the tree's database and check it imports its own code."""
        self.manage("migrate", "--no-input", "-v", "0")
        printed = self.manage("shell", "-v", "0", "-c", WHERE_FROM)
        imported = printed.splitlines()[-1].split()
        if set(imported) != {str(self.root.resolve())}:
            raise RuntimeError(
                f"{self.root}: its manage.py imports gatehouse from {imported}, not from the tree"
            )

    def key_create(self, name: str, *, require: str = "none") -> str:
        """A secret key with every scope, requiring ``require``; the raw key."""
        created = self.manage(
            "create_api_key",
            "--name",
            name,
            "--kind",
            "secret",
            "--scopes",
            "session,lookup,create",
            "--require",
            require,
            "--json",
        )
        return json.loads(created.strip().splitlines()[-1])["key"]

    def ip_block(self, ip: str, *, duration: str = "2h") -> None:
        self.manage("block_client", "--ip", ip, "--for", duration, "--reason", "lookup bench")

    def ip_unblock(self, ip: str) -> None:
        """Lift the bench's block (idempotent: trees may share a database); at
        the end of a run, so a failure is reported, not raised."""
        try:
            self.manage("unblock_client", "--ip", ip)
        except RuntimeError as exc:
            print(f"could not lift the bench's block on {ip}: {exc}", file=sys.stderr)

    def serve(self, *, workers: int, lookup_ip: list[str] | None = None) -> GunicornServer:
        """A gunicorn of this tree (not yet waited for: use it as a context manager)."""
        return GunicornServer(env=self.env(lookup_ip=lookup_ip), workers=workers, root=self.root)


def database_name(database_url: str) -> str:
    """The PostgreSQL database a URL names (its backends' CPU is counted per row)."""
    import dj_database_url

    return str(dj_database_url.parse(database_url)["NAME"]) if database_url else ""
