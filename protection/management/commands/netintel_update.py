"""``netintel_update``: load a new network-origin dataset (the only command that downloads it).

Without ``--from`` it downloads ``NETINTEL_SOURCES`` (iptoasn's ip2asn-v4
and -v6, AWS's ip-ranges.json, Google Cloud's cloud.json, the Tor Project's
bulk exit list) into a temporary directory; ``--from DIR`` reads the same
file names from a directory instead (air-gapped sites, tests). Malformed
lines are counted and reported; a file that is mostly malformed, or a
failed download, fails the update and the previous dataset stays.
"""

import json
import tempfile
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from protection.netintel.fetch import FetchError, netintel_fetch
from protection.netintel.services import NetIntelUpdateError, UpdateResult, netintel_update
from protection.netintel.sources import FileReport


def _describe(name: str, report: dict[str, Any]) -> str:
    parts = [f"{report['entries']} entries"]
    parts += [f"{count} skipped ({why})" for why, count in report.get("skipped", {}).items()]
    if report["malformed"]:
        lines = ", ".join(str(n) for n in report.get("malformed_lines", []))
        parts.append(f"{report['malformed']} malformed (lines {lines}…)")
    if report.get("error"):
        parts.append(report["error"])
    return f"  {name}: {', '.join(parts)}"


class Command(BaseCommand):
    help = "Load the network-origin data (ASN ranges, hosting/VPN/Tor/proxy lists)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--from",
            dest="directory",
            metavar="DIR",
            help="read ip2asn-v4.tsv, ip2asn-v6.tsv, hosting/vpn/tor/proxy.txt, ip-ranges.json "
            "and cloud.json from DIR instead of downloading",
        )
        parser.add_argument("--json", action="store_true", help="print one JSON object")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            if options["directory"]:
                directory = Path(options["directory"])
                if not directory.is_dir():
                    raise NetIntelUpdateError(f"{directory} is not a directory")
                result = netintel_update(directory=directory)
            else:
                with tempfile.TemporaryDirectory(prefix="gatehouse-netintel-") as temporary:
                    netintel_fetch(directory=Path(temporary))
                    result = netintel_update(directory=Path(temporary), source="download")
        except (NetIntelUpdateError, FetchError) as exc:
            files: dict[str, FileReport] = getattr(exc, "files", {})
            if options["json"]:
                body = {"error": str(exc), "files": {n: r.as_dict() for n, r in files.items()}}
                self.stdout.write(json.dumps(body))
            else:
                for name, report in files.items():
                    self.stderr.write(_describe(name, report.as_dict()))
            raise CommandError(f"Network-origin data not updated: {exc}") from exc
        self._report(result, options)

    def _report(self, result: UpdateResult, options: dict[str, Any]) -> None:
        summary = result.as_dict()
        if options["json"]:
            self.stdout.write(json.dumps(summary))
            return
        if options["verbosity"] < 1:
            return
        self.stdout.write(
            f"Loaded network-origin dataset {summary['dataset']} ({summary['source']}): "
            f"{summary['asn_ranges']} AS ranges of {summary['autonomous_systems']} "
            f"autonomous systems, {summary['class_ranges']} class ranges"
        )
        for name, report in summary["files"].items():
            self.stdout.write(_describe(name, report))
        if summary["missing"]:
            self.stdout.write(f"  not present: {', '.join(summary['missing'])}")
