"""``pat_issuer_fetch``: read a Private Access Token issuer's directory, print the setting.

Fetches ``https://<issuer>/.well-known/private-token-issuer-directory`` (or
the URL given), keeps its token keys of type 2 (blind RSA 2048, RFC 9578)
in the issuer's order of preference and prints the ``GATEHOUSE_PAT_ISSUERS``
value, alone on the last line. The request path never fetches anything:
run this again when the issuer rotates its keys.
"""

from typing import Any
from urllib.error import URLError

from django.core.management.base import BaseCommand, CommandError, CommandParser

from protection.challenges.patissuers import (
    pat_directory_fetch,
    pat_directory_parse,
    pat_directory_url,
)


class Command(BaseCommand):
    help = (
        "Fetch a Private Access Token issuer directory and print the GATEHOUSE_PAT_ISSUERS "
        "value (last line) for its type-2 token keys."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "issuer",
            help="the issuer's server name (its well-known directory is fetched) or the "
            "directory's URL",
        )
        parser.add_argument(
            "--name",
            help="the issuer name TokenChallenges carry (default: the directory's host[:port])",
        )
        parser.add_argument("--timeout", type=float, default=10.0, help="seconds (default 10)")

    def handle(self, *args: Any, **options: Any) -> None:
        url = pat_directory_url(options["issuer"])
        try:
            host_name, body = pat_directory_fetch(url, timeout=options["timeout"])
            name = (options["name"] or host_name).lower()
            lines = pat_directory_parse(body, issuer_name=name)
        except (OSError, URLError, ValueError) as exc:
            raise CommandError(f"{url}: {exc}") from exc
        if options["verbosity"] >= 1:
            self.stdout.write(
                f"Issuer {name}: {len(lines)} token key(s) of type 2, most preferred first.\n"
                "Set GATEHOUSE_PAT_ISSUERS to (add other issuers after a comma):"
            )
        self.stdout.write(",".join(lines))
