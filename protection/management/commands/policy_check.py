"""Validate a policy file without starting gatehouse (for CI and before a roll-out).

Exit 0 and one "valid" line on stdout; or exit 1 and one line per problem on
stderr, each naming the file, the table and the key. Warnings are printed
and do not fail. The file is checked against this deployment's settings
(its groups, rules and declared event kinds), not merged into them.
"""

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from protection.policy.filecheck import policy_file_findings


class Command(BaseCommand):
    help = "Validate a policy file (TOML): exit 0 if valid, else 1 and one line per problem."
    requires_system_checks: list[str] = []  # the file alone: nothing else needs to be right

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="the policy file to validate")

    def handle(self, *args: Any, **options: Any) -> None:
        findings = policy_file_findings(options["file"])
        for finding in findings:
            self.stderr.write(f"warning: {finding}" if finding.warning else str(finding))
        if any(not finding.warning for finding in findings):
            sys.exit(1)
        self.stdout.write(f"policy file {options['file']} is valid")
