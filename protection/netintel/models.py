"""Network-origin data in the database: the truth every process loads.

One ``NetIntelDataset`` row per ``netintel_update`` run, written in the same
transaction as its ranges, so a dataset is either complete or absent; the
newest one is current and its id is the version processes compare. The
previous dataset is kept until the next update, so a process that started
reading it just before an update commits still reads it whole.
"""

from django.db import models
from django.utils import timezone


class NetIntelDataset(models.Model):
    loaded_at = models.DateTimeField(default=timezone.now, db_index=True)
    # "download" or "directory /path" (no credentials: sources are public files).
    source = models.CharField(max_length=500)
    # What the update read, per file: ranges loaded, lines skipped and why.
    summary = models.JSONField(default=dict, blank=True)
    asn_ranges = models.PositiveIntegerField(default=0)
    class_ranges = models.PositiveIntegerField(default=0)
    autonomous_systems = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = "network-origin dataset"
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"dataset {self.pk} ({self.loaded_at:%Y-%m-%d %H:%M} UTC)"


class AsnRange(models.Model):
    """A routed range (iptoasn ``ip2asn``): first and last address, AS number, country."""

    dataset = models.ForeignKey(NetIntelDataset, on_delete=models.CASCADE, related_name="+")
    first_ip = models.GenericIPAddressField()
    last_ip = models.GenericIPAddressField()
    asn = models.PositiveBigIntegerField()
    country = models.CharField(max_length=2, blank=True)

    class Meta:
        verbose_name = "AS range"

    def __str__(self) -> str:
        return f"{self.first_ip}-{self.last_ip} AS{self.asn}"


class AutonomousSystem(models.Model):
    """An AS number's organisation, as the ASN data names it."""

    dataset = models.ForeignKey(NetIntelDataset, on_delete=models.CASCADE, related_name="+")
    asn = models.PositiveBigIntegerField()
    name = models.CharField(max_length=255, blank=True)

    class Meta:
        verbose_name = "autonomous system"
        constraints = [
            models.UniqueConstraint(fields=["dataset", "asn"], name="netintel_as_unique"),
        ]

    def __str__(self) -> str:
        return f"AS{self.asn} {self.name}"


class ClassRange(models.Model):
    """A range listed as ``hosting``, ``vpn``, ``tor`` or ``proxy`` by one source file."""

    dataset = models.ForeignKey(NetIntelDataset, on_delete=models.CASCADE, related_name="+")
    first_ip = models.GenericIPAddressField()
    last_ip = models.GenericIPAddressField()
    network_class = models.CharField(max_length=16)
    source = models.CharField(max_length=32)

    class Meta:
        verbose_name = "network class range"

    def __str__(self) -> str:
        return f"{self.first_ip}-{self.last_ip} {self.network_class}"


class NetIntelSnapshot(models.Model):
    """A dataset compiled once by ``netintel_update`` (in its transaction), so a
    process loads the arrays in milliseconds instead of re-reading every range.
    ``format`` names the layout; a process that does not know it compiles the
    ranges itself."""

    dataset = models.OneToOneField(
        NetIntelDataset, on_delete=models.CASCADE, primary_key=True, related_name="snapshot"
    )
    format = models.PositiveSmallIntegerField()
    data = models.BinaryField()

    class Meta:
        verbose_name = "network-origin snapshot"

    def __str__(self) -> str:
        return f"snapshot of dataset {self.dataset_id} (format {self.format})"
