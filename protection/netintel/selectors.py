"""Reading the network-origin data for staff and scrapes (never the request path)."""

import datetime
from collections.abc import Iterable
from dataclasses import dataclass

from django.utils import timezone

from protection.netintel.models import AutonomousSystem, NetIntelDataset


@dataclass(frozen=True)
class NetIntelStatus:
    """The current dataset as the database has it (None: nothing loaded yet)."""

    dataset: NetIntelDataset | None
    age_seconds: float | None

    @property
    def loaded(self) -> bool:
        return self.dataset is not None


def netintel_status(*, now: datetime.datetime | None = None) -> NetIntelStatus:
    """The current dataset and its age (seconds since ``netintel_update`` loaded it)."""
    dataset = NetIntelDataset.objects.order_by("-id").first()
    if dataset is None:
        return NetIntelStatus(dataset=None, age_seconds=None)
    now = now or timezone.now()
    return NetIntelStatus(
        dataset=dataset, age_seconds=max(0.0, (now - dataset.loaded_at).total_seconds())
    )


def netintel_as_names(asns: Iterable[int]) -> dict[int, str]:
    """The organisation of each AS number in the current dataset (those it knows)."""
    wanted = sorted({int(asn) for asn in asns})
    current = NetIntelDataset.objects.order_by("-id").values_list("id", flat=True).first()
    if not wanted or current is None:
        return {}
    rows = AutonomousSystem.objects.filter(dataset_id=current, asn__in=wanted)
    return {int(asn): name for asn, name in rows.values_list("asn", "name")}
