"""From the database to a process: a dataset's snapshot, or its ranges compiled.

``dataset_compile`` reads every range of a dataset and compiles it (what
``netintel_update`` does once, in its transaction, to store the snapshot);
``dataset_load`` is what each process does: the stored snapshot when its
format is known (milliseconds), else the ranges compiled (about a second).
"""

import logging
from collections.abc import Iterable, Iterator
from typing import Generic, TypeVar

from protection.netintel.compiled import NetIntelData, compile_dataset
from protection.netintel.models import NetIntelDataset, NetIntelSnapshot
from protection.netintel.snapshot import FORMAT, snapshot_loads
from protection.netintel.storage import as_names_read, asn_ranges_read, class_ranges_read

logger = logging.getLogger("gatehouse.netintel")

R = TypeVar("R")


class _Counted(Generic[R]):
    """Counts the rows an iterable yields (to check a dataset was read whole)."""

    def __init__(self, rows: Iterable[R]) -> None:
        self.rows, self.count = rows, 0

    def __iter__(self) -> Iterator[R]:
        for row in self.rows:
            self.count += 1
            yield row


def dataset_compile(dataset: NetIntelDataset) -> NetIntelData:
    """Read ``dataset``'s ranges and names and compile them."""
    asn_rows = _Counted(asn_ranges_read(dataset.pk))
    class_rows = _Counted(class_ranges_read(dataset.pk))
    data = compile_dataset(
        dataset_id=dataset.pk,
        loaded_at=dataset.loaded_at.timestamp(),
        asn_rows=asn_rows,
        class_rows=class_rows,
        names=as_names_read(dataset.pk),
    )
    if (asn_rows.count, class_rows.count) != (dataset.asn_ranges, dataset.class_ranges):
        # Deleted under us (two updates while this process read): keep the old copy.
        raise RuntimeError(f"dataset {dataset.pk} changed while it was read")
    return data


def dataset_load(version: int) -> NetIntelData:
    """Dataset ``version`` as a process uses it (the newest one if it is gone;
    an empty ``NetIntelData`` if there is none)."""
    dataset = NetIntelDataset.objects.filter(pk=version).first() if version else None
    if dataset is None:
        dataset = NetIntelDataset.objects.order_by("-id").first()
    if dataset is None:
        return NetIntelData()
    blob = (
        NetIntelSnapshot.objects.filter(dataset_id=dataset.pk, format=FORMAT)
        .values_list("data", flat=True)
        .first()
    )
    if blob is not None:
        try:
            return snapshot_loads(blob if isinstance(blob, bytes) else bytes(blob))
        except ValueError:
            logger.warning("Snapshot of dataset %s unreadable; compiling its ranges", dataset.pk)
    return dataset_compile(dataset)
