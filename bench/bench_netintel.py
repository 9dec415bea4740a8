"""Cost of network-origin classification with a full-size (synthetic) dataset.

    python bench/bench_netintel.py                    # embedded SQLite
    DATABASE_URL=postgres://… python bench/bench_netintel.py
    python bench/bench_netintel.py --ranges 100000    # smaller

Generates a dataset shaped like the real one: ~500k AS ranges (80 % IPv4,
20 % IPv6 at /32–/48) from ~75k private-use AS numbers (64512–65534 and
4200000000+), with synthetic organisation names and countries from the
user-assigned ISO codes (XA–XZ), plus hosting, VPN, Tor and proxy lists and
an AWS-shaped ip-ranges.json. The addresses are a synthetic spread over the
address space, the documentation ranges (RFC 5737, RFC 3849, 198.18.0.0/15)
among them; nothing is real allocation data. It is written to the database
by ``netintel_update --from`` inside a transaction that is rolled back at
the end, then loaded and compiled as a worker would, and classified.

Prints: the update's duration, a worker's reload duration, the memory the
compiled arrays hold (and the process's RSS growth for the load), and the
cost per ``netintel_classify`` call for addresses that hit and miss.
"""

import argparse
import ctypes
import gc
import ipaddress
import json
import os
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import transaction  # noqa: E402

from protection.netintel import netintel_classify, registry  # noqa: E402
from protection.netintel.loading import dataset_compile, dataset_load  # noqa: E402
from protection.netintel.models import NetIntelDataset  # noqa: E402
from protection.netintel.registry import netintel_current_id  # noqa: E402

CALLS = 200_000
DOCUMENTATION = ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "198.18.0.0/15")


def _asns(rng: random.Random, count: int) -> list[int]:
    private16 = list(range(64512, 65535))
    private32 = rng.sample(range(4_200_000_000, 4_294_967_294), max(0, count - len(private16)))
    return (private16 + private32)[:count]


def write_dataset(directory: Path, *, ranges: int, seed: int = 2026) -> None:
    """Write ip2asn-v4/v6, the class lists and ip-ranges.json for ``ranges`` AS ranges."""
    rng = random.Random(seed)
    asns = _asns(rng, max(100, ranges // 7))
    countries = [f"X{chr(c)}" for c in range(ord("A"), ord("Z") + 1)]
    v4_count, v6_count = ranges * 4 // 5, ranges - ranges * 4 // 5
    # IPv4: contiguous blocks of /20–/24 sizes from 1.0.0.0, one in eight left unrouted.
    with (directory / "ip2asn-v4.tsv").open("w") as out:
        position = int(ipaddress.IPv4Address("1.0.0.0"))
        for _ in range(v4_count):
            size = 1 << rng.choice((8, 8, 8, 9, 10, 11, 12, 13, 14, 15))
            first, last = position, min(position + size - 1, 2**32 - 1)
            position = last + 1 + (size if rng.random() < 0.125 else 0)
            asn = rng.choice(asns)
            out.write(
                f"{ipaddress.IPv4Address(first)}\t{ipaddress.IPv4Address(last)}\t{asn}\t"
                f"{rng.choice(countries)}\tAS{asn}-NET Synthetic Networks {asn % 997}\n"
            )
            if position >= 2**32 - 2**16:
                break
    with (directory / "ip2asn-v6.tsv").open("w") as out:
        position = int(ipaddress.IPv6Address("2001::"))
        for _ in range(v6_count):
            size = 1 << (128 - rng.choice((32, 36, 40, 44, 48)))
            first = (position + size - 1) // size * size
            last = first + size - 1
            position = last + 1
            asn = rng.choice(asns)
            out.write(
                f"{ipaddress.IPv6Address(first)}\t{ipaddress.IPv6Address(last)}\t{asn}\t"
                f"{rng.choice(countries)}\tAS{asn}-NET Synthetic Networks {asn % 997}\n"
            )

    def prefixes(count: int, lengths: tuple[int, ...]) -> list[str]:
        found = list(DOCUMENTATION)
        while len(found) < count:
            network = ipaddress.IPv4Network(
                (rng.randrange(2**24, 224 * 2**24), rng.choice(lengths)), strict=False
            )
            found.append(str(network))
        return found

    (directory / "hosting.txt").write_text("\n".join(prefixes(ranges // 25, (16, 20, 24))) + "\n")
    (directory / "vpn.txt").write_text("\n".join(prefixes(ranges // 100, (24, 28, 32))) + "\n")
    (directory / "proxy.txt").write_text("\n".join(prefixes(ranges // 100, (28, 32))) + "\n")
    (directory / "tor.txt").write_text(
        "# synthetic exit list\n" + "\n".join(prefixes(ranges // 250, (32,))) + "\n"
    )
    aws = {
        "prefixes": [{"ip_prefix": p, "service": "EC2"} for p in prefixes(ranges // 60, (16, 22))],
        "ipv6_prefixes": [{"ipv6_prefix": "2001:db8::/32", "service": "EC2"}],
    }
    (directory / "ip-ranges.json").write_text(json.dumps(aws))


def _release_freed_memory() -> None:
    """Collect, and hand freed heap back to the OS (glibc keeps it otherwise), so
    the RSS difference is what the process really keeps."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except OSError:  # not glibc: the figure includes freed heap
        pass


def rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def per_call_us(addresses: list[str]) -> tuple[float, float]:
    """Wall-clock and CPU microseconds per call (CPU time excludes waiting for a
    core on a busy machine, so it is the figure to compare between runs)."""
    wall, cpu = time.perf_counter(), time.process_time()
    for address in addresses:
        netintel_classify(address)
    return (
        (time.perf_counter() - wall) / len(addresses) * 1e6,
        (time.process_time() - cpu) / len(addresses) * 1e6,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ranges", type=int, default=500_000)
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as temporary, transaction.atomic():
        directory = Path(temporary)
        write_dataset(directory, ranges=args.ranges)
        started = time.perf_counter()
        call_command(
            "netintel_update", "--from", str(directory), "--json", stdout=open(os.devnull, "w")
        )
        update_s = time.perf_counter() - started
        _release_freed_memory()
        rss_before = rss_mb()
        started = time.perf_counter()
        data = dataset_load(netintel_current_id())
        load_s = time.perf_counter() - started
        _release_freed_memory()
        rss_growth = rss_mb() - rss_before
        started = time.perf_counter()
        dataset_compile(NetIntelDataset.objects.get(pk=netintel_current_id()))
        compile_s = time.perf_counter() - started
        registry.data, registry.version = data, data.dataset_id
        registry.next_check_at = registry.clock() + 3600  # measure classification alone
        v4 = [str(ipaddress.IPv4Address(rng.randrange(2**24, 224 * 2**24))) for _ in range(CALLS)]
        v6 = [
            str(ipaddress.IPv6Address(rng.randrange(2**125, 2**125 + 2**116)))
            for _ in range(CALLS // 4)
        ]
        mapped = [f"::ffff:{a}" for a in v4[: CALLS // 4]]
        misses = [
            str(ipaddress.IPv4Address(rng.randrange(224 * 2**24, 2**32))) for _ in range(CALLS // 4)
        ]
        hit_share = sum(netintel_classify(a).asn is not None for a in v4[:10_000]) / 10_000
        print(
            f"AS ranges: {len(data.asn[4]) + len(data.asn[6])} (IPv4 {len(data.asn[4])}, "
            f"IPv6 {len(data.asn[6])}); autonomous systems: {len(data.as_numbers)}; "
            f"class ranges: {len(data.classes[4]) + len(data.classes[6])}"
        )
        print(f"netintel_update --from:       {update_s:8.1f} s  ({django.db.connection.vendor})")
        print(f"worker reload (snapshot):     {load_s:8.2f} s")
        print(f"  (ranges read and compiled:  {compile_s:8.2f} s, the fallback)")
        print(f"compiled arrays and names:    {data.nbytes() / 1e6:8.1f} MB per process")
        print(f"RSS kept after the reload:    {rss_growth:8.1f} MB")
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3
        print(f"peak RSS of this process:     {peak_mb:8.1f} MB")
        per_call_us(v4[:2000])  # warm up
        print(f"load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
        print(f"{'netintel_classify':32}{'µs/call wall':>14}{'µs/call CPU':>13}")
        for label, addresses in (
            (f"IPv4 ({hit_share:.0%} in an AS)", v4),
            ("IPv6", v6),
            ("IPv4-mapped IPv6", mapped),
            ("unrouted IPv4 (miss)", misses),
        ):
            wall_us, cpu_us = per_call_us(addresses)
            print(f"{label:32}{wall_us:>14.2f}{cpu_us:>13.2f}")
        transaction.set_rollback(True)
    registry.reset()


if __name__ == "__main__":
    main()
