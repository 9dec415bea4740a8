"""The ``Person`` model: who signed up, stored in canonical form.

Email and phone are stored already normalised (``signup.normalization``) and
are unique in the database itself, so two spellings of one address, or two
racing requests, can never produce two people.
"""

import uuid

from django.db import models
from django.db.models import Q
from django.utils import timezone

from signup.normalization import FULL_NAME_COLUMN_LENGTH


class Person(models.Model):
    # Random ids: sequential ones would tell anyone with one person how many
    # others signed up, and when.
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    email = models.CharField(max_length=254, unique=True, help_text="Normalised address.")
    # NULL, not "", for "no phone": the partial unique constraint below must
    # let any number of people have no phone.
    phone = models.CharField(  # noqa: DJ001
        max_length=20, null=True, blank=True, help_text="E.164, e.g. +12015550123."
    )
    full_name = models.CharField(max_length=FULL_NAME_COLUMN_LENGTH)
    created_at = models.DateTimeField(default=timezone.now, db_index=True, editable=False)
    created_by_key = models.ForeignKey(
        "protection.ApiKey",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="persons_created",
        editable=False,
    )
    # The anonymous session that created the person. Not a foreign key:
    # sessions are purged after a few hours, the person stays.
    created_in_session = models.UUIDField(null=True, blank=True, db_index=True, editable=False)
    # The gate's verdict on the create (protection.core.verdict): its risk
    # (0-100) and the reasons behind it, kept for review and tuning.
    risk = models.PositiveSmallIntegerField(default=0, editable=False)
    risk_reasons = models.JSONField(default=list, blank=True, editable=False)
    # The person's latest label (signup.labels keeps every one, with who and
    # why): "fraud", "legit", or "" for none yet.
    label = models.CharField(max_length=8, blank=True, db_index=True, editable=False)
    labelled_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["phone"], condition=Q(phone__isnull=False), name="person_phone_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.full_name} ({self.id})"
