"""Print the policy in force: every policy setting, defaults < settings < policy file.

TOML by default (a valid policy file: a starting point for your own), JSON
with ``--json``. The values are what ``gatehouse_settings`` returns.
"""

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from protection.conf import policy_effective
from protection.policyfile import policy_toml


class Command(BaseCommand):
    help = "Print the effective policy (defaults < settings < policy file) as TOML or JSON."
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="print JSON instead of TOML")

    def handle(self, *args: Any, **options: Any) -> None:
        policy = policy_effective()
        self.stdout.write(json.dumps(policy, indent=2) if options["json"] else policy_toml(policy))
