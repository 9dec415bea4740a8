"""Fraud and legit labels on persons: who said so, when and why, and what it blocked.

``person_label`` stores a ``PersonLabel`` (every label is kept: the latest
is the person's ``label``), records a ``person_labelled`` event and queues
the ``person.labelled`` webhook, all in one transaction:

- ``fraud`` blocks what the person came with, as their creation snapshot
  (``signup.snapshot``) names it, per ``LABEL_FRAUD_BLOCKS``
  (``protection.policy.labels``): each block is a ``client_blocked`` event
  with reason ``fraud_label``. Once the snapshot is purged
  (``PERSON_SIGNALS_RETENTION``) only the creating session is still known.
- ``legit`` lifts the blocks this person's fraud labels made, except one
  that another person, still labelled fraud, was blocked with too (an IP
  two of them shared): that one stays until it ends.

``manage.py label_person`` and the persons admin call it.
"""

import datetime
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone

from protection.blocks import BlockedClient
from protection.core.events import event_record
from protection.policy.labels import (
    AppliedBlock,
    SkippedTarget,
    label_blocks_lift,
    label_fraud_blocks_apply,
)
from protection.webhooks import webhooks_person_labelled_emit
from signup.persons import Person
from signup.snapshot import CreationSnapshot

REASON_MAX_LENGTH = 500


class PersonLabel(models.Model):
    class Label(models.TextChoices):
        FRAUD = "fraud", "fraud"
        LEGIT = "legit", "legit"

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="labels")
    label = models.CharField(max_length=8, choices=Label.choices)
    reason = models.CharField(max_length=REASON_MAX_LENGTH, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Who labelled, as a name: the staff user's, or who ran label_person.
    created_by_name = models.CharField(max_length=150, blank=True)
    # What the label did beyond its blocks: the targets it skipped and why
    # (fraud), the blocks it lifted and kept (legit).
    outcome = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name = "person label"
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.label} ({self.created_at:%Y-%m-%d %H:%M})"


class PersonLabelBlock(models.Model):
    """A block a fraud label applied: ``made`` by it, or an active one it extended."""

    label = models.ForeignKey(PersonLabel, on_delete=models.CASCADE, related_name="blocks")
    block = models.ForeignKey(BlockedClient, on_delete=models.CASCADE, related_name="+")
    target = models.CharField(max_length=16)  # session, device or ip
    made = models.BooleanField(default=True)

    class Meta:
        verbose_name = "block of a label"

    def __str__(self) -> str:
        return f"{self.target} block {self.block_id}" + ("" if self.made else " (extended)")


@dataclass
class LabelOutcome:
    label: PersonLabel
    applied: list[AppliedBlock] = field(default_factory=list)
    skipped: list[SkippedTarget] = field(default_factory=list)
    lifted: list[BlockedClient] = field(default_factory=list)
    kept: list[BlockedClient] = field(default_factory=list)


def person_snapshot(person: Person) -> dict[str, Any]:
    """The person's creation snapshot, or what the person row still says once it is purged."""
    stored = CreationSnapshot.objects.filter(person=person).values_list("data", flat=True).first()
    if stored:
        return dict(stored)
    return {
        "session": str(person.created_in_session) if person.created_in_session else None,
        "api_key": getattr(person.created_by_key, "public_id", None),
    }


def _block_reason(person: Person, reason: str) -> str:
    return f"fraud label on person {person.id}" + (f": {reason}" if reason else "")


def _fraud(outcome: LabelOutcome, person: Person, by: Any, now: datetime.datetime) -> None:
    label = outcome.label
    outcome.applied, outcome.skipped = label_fraud_blocks_apply(
        snapshot=person_snapshot(person),
        reason=_block_reason(person, label.reason),
        created_by=by,
        # "by": who labelled, also when no staff user did (label_person).
        details={
            "person_id": str(person.id),
            "label_id": label.pk,
            "by": label.created_by_name or None,
        },
        now=now,
    )
    PersonLabelBlock.objects.bulk_create(
        PersonLabelBlock(label=label, block=item.block, target=item.target, made=item.made)
        for item in outcome.applied
    )
    label.outcome = {"skipped": [{"target": s.target, "why": s.why} for s in outcome.skipped]}


def _legit(outcome: LabelOutcome, person: Person, by: Any, now: datetime.datetime) -> None:
    made = (
        PersonLabelBlock.objects.filter(
            label__person=person, label__label=PersonLabel.Label.FRAUD, made=True
        )
        .select_related("block")
        .order_by("block_id")
    )
    blocks = {row.block_id: row.block for row in made if row.block.is_active(now)}
    # Blocks another person, still labelled fraud, came with too: they stay.
    shared = set(
        PersonLabelBlock.objects.filter(
            block_id__in=blocks,
            label__label=PersonLabel.Label.FRAUD,
            label__person__label=PersonLabel.Label.FRAUD,
        )
        .exclude(label__person=person)
        .values_list("block_id", flat=True)
    )
    outcome.kept = [blocks[pk] for pk in sorted(shared)]
    outcome.lifted = label_blocks_lift(
        blocks=[block for pk, block in blocks.items() if pk not in shared], lifted_by=by, now=now
    )
    outcome.label.outcome = {
        "lifted": [block.pk for block in outcome.lifted],
        "kept": [block.pk for block in outcome.kept],
    }


def person_label(
    *,
    person: Person,
    label: str,
    reason: str = "",
    labelled_by: Any = None,
    by_name: str = "",
    now: datetime.datetime | None = None,
) -> LabelOutcome:
    """Label ``person`` ``fraud`` or ``legit`` (the module docstring says what follows).

    ``labelled_by``: the staff user, if any; ``by_name``: who, as a name
    (defaults to that user's username). Raises ValueError for another label.
    """
    if label not in PersonLabel.Label.values:
        raise ValueError(f"A label is {' or '.join(PersonLabel.Label.values)}, not {label!r}")
    now = now or timezone.now()
    reason = " ".join(str(reason or "").split())[:REASON_MAX_LENGTH]
    by_name = (by_name or getattr(labelled_by, "username", "") or "")[:150]
    with transaction.atomic():
        person = Person.objects.select_for_update().get(pk=person.pk)
        outcome = LabelOutcome(
            PersonLabel.objects.create(
                person=person,
                label=label,
                reason=reason,
                created_at=now,
                created_by=labelled_by,
                created_by_name=by_name,
            )
        )
        person.label, person.labelled_at = label, now
        person.save(update_fields=["label", "labelled_at"])
        if label == PersonLabel.Label.FRAUD:
            _fraud(outcome, person, labelled_by, now)
        else:
            _legit(outcome, person, labelled_by, now)
        outcome.label.save(update_fields=["outcome"])
        event_record(
            kind="person_labelled",
            decision="alert",
            reason=label,
            session_id=person.created_in_session,
            # The reason is free text staff typed: kept with the label, not in the log.
            details={
                "person_id": str(person.id),
                "label_id": outcome.label.pk,
                "blocks": [item.block.pk for item in outcome.applied],
                "lifted": [block.pk for block in outcome.lifted],
                "by": by_name or None,
            },
        )
        webhooks_person_labelled_emit(
            person_id=person.id, label=label, reason=reason, labelled_at=now
        )
    return outcome
