"""Cost of the early block check with 10 and with 10,000 rules.

    python bench/bench_blocks.py            # embedded SQLite + local memory
    DATABASE_URL=… REDIS_URL=… python bench/bench_blocks.py

Rules are half IPv4 and half IPv6 networks of random prefix lengths plus
single addresses, written to the database inside a transaction that is
rolled back at the end. Prints the compile (reload) time and the per-call
cost of ``blocks_check(ip=…)`` for addresses that miss and that hit.
"""

import ipaddress
import os
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import transaction  # noqa: E402
from django.test.utils import override_settings  # noqa: E402

from protection.base.exceptions import ProtectionError  # noqa: E402
from protection.blocks import BlockedClient, blocks_check  # noqa: E402
from protection.blocks.ruleset import load_active_blocks, registry  # noqa: E402

CALLS = 20_000


def _rules(count: int, rng: random.Random) -> list[BlockedClient]:
    rows = []
    for i in range(count):
        if i % 2:
            network = ipaddress.IPv4Network(
                (rng.getrandbits(32), rng.choice([16, 24, 28, 32])), strict=False
            )
        else:
            network = ipaddress.IPv6Network(
                (rng.getrandbits(128), rng.choice([32, 48, 64, 128])), strict=False
            )
        kind = "ip" if network.num_addresses == 1 else "cidr"
        value = str(network.network_address) if kind == "ip" else str(network)
        rows.append(BlockedClient(kind=kind, value=value, reason="bench"))
    return rows


def _per_call_ns(addresses: list[str]) -> float:
    started = time.perf_counter()
    for address in addresses:
        try:
            blocks_check(ip=address)
        except ProtectionError:
            pass
    return (time.perf_counter() - started) / len(addresses) * 1e9


def main() -> None:
    call_command("migrate", verbosity=0)
    rng = random.Random(2026)
    misses = [str(ipaddress.IPv4Address(rng.getrandbits(32))) for _ in range(CALLS // 2)] + [
        str(ipaddress.IPv6Address(rng.getrandbits(128))) for _ in range(CALLS // 2)
    ]
    print(f"{'rules':>8}{'reload ms':>12}{'miss ns/check':>16}{'hit ns/check':>15}")
    # Hits are counted in memory and flushed once a second; an hour keeps the
    # DB writes out of the measurement (the flush is one UPDATE per block).
    with override_settings(
        GATEHOUSE={
            **django.conf.settings.GATEHOUSE,
            "BLOCKS_HIT_FLUSH_INTERVAL": 3600,
        }
    ):
        for count in (10, 10_000):
            with transaction.atomic():
                BlockedClient.objects.bulk_create(_rules(count, rng), batch_size=2000)
                started = time.perf_counter()
                load_active_blocks()
                reload_ms = (time.perf_counter() - started) * 1000
                registry.invalidate()
                blocks_check(ip="192.0.2.1")  # load once, as a process would
                hit_rule = BlockedClient.objects.filter(kind="ip").first()
                hits = [hit_rule.value] * 2000 if hit_rule else []
                miss_ns = _per_call_ns(misses)
                hit_ns = _per_call_ns(hits) if hits else float("nan")
                print(f"{count:>8}{reload_ms:>12.1f}{miss_ns:>16.0f}{hit_ns:>15.0f}")
                transaction.set_rollback(True)
            registry.invalidate()


if __name__ == "__main__":
    main()
