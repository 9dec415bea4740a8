"""``label_person PERSON_ID --fraud | --legit [--reason TEXT]``: one line per block it
applied or lifted, and what it skipped and why (``signup.labels.person_label``)."""

import getpass
import uuid
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from signup.labels import REASON_MAX_LENGTH, LabelOutcome, PersonLabel, person_label
from signup.persons import Person


def _who() -> str:
    try:
        return f"{getpass.getuser()} (label_person)"
    except (KeyError, OSError):  # no name for this uid (containers)
        return "label_person"


def _until(block: Any) -> str:
    return block.expires_at.isoformat() if block.expires_at else "permanently"


class Command(BaseCommand):
    help = (
        "Label a person fraud (block the session, device and IP they came with, per "
        "LABEL_FRAUD_BLOCKS) or legit (lift what their fraud labels blocked)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("person_id", help="the id create_person answered")
        which = parser.add_mutually_exclusive_group(required=True)
        which.add_argument("--fraud", action="store_true", help="label fraud: block")
        which.add_argument("--legit", action="store_true", help="label legit: lift")
        parser.add_argument("--reason", default="", help="why (stored with the label)")
        parser.add_argument("--by", default="", help="who labels (default: the OS user)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            person_id = uuid.UUID(options["person_id"].strip())
        except ValueError:
            raise CommandError(f"{options['person_id']!r} is not a person id (a UUID)") from None
        person = Person.objects.filter(pk=person_id).first()
        if person is None:
            raise CommandError(f"No person {person_id}")
        if len(options["reason"]) > REASON_MAX_LENGTH:
            raise CommandError(f"--reason is at most {REASON_MAX_LENGTH} characters")
        label = PersonLabel.Label.FRAUD if options["fraud"] else PersonLabel.Label.LEGIT
        outcome = person_label(
            person=person, label=label, reason=options["reason"], by_name=options["by"] or _who()
        )
        if options["verbosity"] >= 1:
            self._report(person, outcome)

    def _report(self, person: Person, outcome: LabelOutcome) -> None:
        self.stdout.write(f"Labelled person {person.id} {outcome.label.label}")
        for item in outcome.applied:
            how = "blocked" if item.made else "extended the block of"
            self.stdout.write(
                f"  {how} {item.target} ({item.block.kind} {item.block.value}) until "
                f"{_until(item.block)} (block {item.block.pk})"
            )
        for skipped in outcome.skipped:
            self.stdout.write(f"  not blocked: {skipped.target}: {skipped.why}")
        for block in outcome.lifted:
            self.stdout.write(f"  lifted block {block.pk} ({block.kind} {block.value})")
        for block in outcome.kept:
            self.stdout.write(
                f"  kept block {block.pk} ({block.kind} {block.value}): another person "
                "labelled fraud came with it too"
            )
