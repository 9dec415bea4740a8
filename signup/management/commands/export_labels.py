"""``export_labels --format jsonl|csv [--since DATE] [--output FILE]``: the labelled
persons and the signals known at their creation, for tuning the policy
(``signup.export``: the columns; no email, phone, name, address or device id)."""

import csv
import datetime
import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.dateparse import parse_date, parse_datetime

from signup.export import EXPORT_COLUMNS, csv_cell, labelled_persons_export


def since_parse(text: str) -> datetime.datetime:
    """``2030-01-31`` (midnight UTC) or an ISO 8601 date and time (UTC if no offset)."""
    text = text.strip()
    try:
        moment = parse_datetime(text)
        day = None if moment is not None else parse_date(text)
    except ValueError:
        moment = day = None
    if day is not None:
        moment = datetime.datetime.combine(day, datetime.time(), tzinfo=datetime.UTC)
    if moment is None:
        raise ValueError(f"{text!r} is not a date (2030-01-31) or an ISO 8601 date and time")
    return moment if moment.tzinfo else moment.replace(tzinfo=datetime.UTC)


class Command(BaseCommand):
    help = (
        "Export labelled persons with the signals known at their creation (verdict, network "
        "origin, evidence, velocity) and their label: never an email, phone or name."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--format", choices=["jsonl", "csv"], default="jsonl")
        parser.add_argument("--since", help="only labels given on or after this date (UTC)")
        parser.add_argument("--output", help="write to this file (default: standard output)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            since = since_parse(options["since"]) if options["since"] else None
        except ValueError as exc:
            raise CommandError(f"Invalid --since: {exc}") from None
        rows = labelled_persons_export(since=since)
        if options["output"]:
            with open(options["output"], "w", encoding="utf-8", newline="") as out:
                count = self._write(out, rows, options["format"])
            self.stderr.write(f"Wrote {count} labelled person(s) to {options['output']}")
        else:
            self._write(self.stdout, rows, options["format"])

    @staticmethod
    def _write(out: Any, rows: Any, form: str) -> int:
        count = 0
        if form == "csv":
            # Each row is one write ending in "\r\n": Django's OutputWrapper adds nothing.
            writer = csv.DictWriter(out, fieldnames=EXPORT_COLUMNS)
            writer.writeheader()
            for row in rows:
                writer.writerow({name: csv_cell(row[name]) for name in EXPORT_COLUMNS})
                count += 1
            return count
        for row in rows:
            out.write(json.dumps(row, separators=(",", ":"), ensure_ascii=False) + "\n")
            count += 1
        return count
