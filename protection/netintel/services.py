"""Loading a new dataset: ``netintel_update`` (from a directory; ``fetch`` downloads one).

One transaction writes the dataset row, every range and the AS names, the
dataset compiled once (its snapshot, what processes load), and deletes the
datasets before the previous one: other processes see the old
dataset until it commits, then the new one whole. A file that is mostly
malformed, or a directory with no source file, raises
``NetIntelUpdateError`` and nothing changes. After commit the new version
is published to the shared cache and this process drops its copy.
"""

import datetime
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from protection.core.events import event_record
from protection.core.versions import version_publish
from protection.netintel.loading import dataset_compile
from protection.netintel.models import NetIntelDataset, NetIntelSnapshot
from protection.netintel.registry import NETINTEL_VERSION_CACHE_KEY, registry
from protection.netintel.snapshot import FORMAT, snapshot_dumps
from protection.netintel.sources import (
    ASN_FILES,
    CLASS_FILES,
    CLOUD_FILES,
    SOURCE_FILES,
    AsnEntry,
    FileReport,
    open_text,
    present,
    read_class_list,
    read_cloud_ranges,
    read_ip2asn,
)
from protection.netintel.storage import as_names_write, asn_ranges_write, class_ranges_write

logger = logging.getLogger("gatehouse.netintel")

# Any number serialises concurrent updates: the second waits for the first.
_ADVISORY_LOCK = 0x6E6574696E74  # "netint"


class NetIntelUpdateError(Exception):
    """The update was refused; the previous dataset stays current."""

    def __init__(self, message: str, *, files: dict[str, FileReport] | None = None) -> None:
        super().__init__(message)
        self.files = files or {}


@dataclass
class UpdateResult:
    dataset: NetIntelDataset
    files: dict[str, FileReport] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset.pk,
            "loaded_at": self.dataset.loaded_at.isoformat(),
            "source": self.dataset.source,
            "asn_ranges": self.dataset.asn_ranges,
            "class_ranges": self.dataset.class_ranges,
            "autonomous_systems": self.dataset.autonomous_systems,
            "files": {name: report.as_dict() for name, report in self.files.items()},
            "missing": self.missing,
        }


def _check(report: FileReport, files: dict[str, FileReport]) -> None:
    if report.rejected:
        why = (
            report.error
            or f"{report.malformed} of {report.entries + report.malformed} entries are malformed"
        )
        raise NetIntelUpdateError(f"{report.name}: {why}; nothing was loaded", files=files)


def _names_kept(entries: Iterable[AsnEntry], names: dict[int, str]) -> Iterator[AsnEntry]:
    """Pass ``entries`` through, noting each AS's first non-empty name in ``names``."""
    for entry in entries:
        if not names.get(entry.asn):
            names[entry.asn] = entry.name
        yield entry


def _write_sources(
    dataset_id: int, directory: Path, files: dict[str, FileReport]
) -> dict[str, int]:
    names: dict[int, str] = {}
    asn_ranges = 0
    for name in ASN_FILES:
        if not present(directory, name):
            continue
        report = files[name] = FileReport(name)
        with open_text(directory / name) as lines:
            entries = _names_kept(read_ip2asn(lines, report), names)
            asn_ranges += asn_ranges_write(dataset_id, entries)
        _check(report, files)
    class_ranges = 0
    for name, network_class in CLASS_FILES.items():
        if present(directory, name):
            report = files[name] = FileReport(name)
            with open_text(directory / name) as lines:
                class_ranges += class_ranges_write(
                    dataset_id, read_class_list(lines, report, network_class)
                )
            _check(report, files)
    for name, provider in CLOUD_FILES.items():
        if present(directory, name):
            report = files[name] = FileReport(name)
            with open_text(directory / name) as lines:
                class_ranges += class_ranges_write(
                    dataset_id, read_cloud_ranges(lines, report, provider)
                )
            _check(report, files)
    return {
        "asn_ranges": asn_ranges,
        "class_ranges": class_ranges,
        "autonomous_systems": as_names_write(dataset_id, names),
    }


def netintel_update(
    *, directory: Path, source: str = "", now: datetime.datetime | None = None
) -> UpdateResult:
    """Load the source files in ``directory`` as the new current dataset.

    Raises ``NetIntelUpdateError`` (nothing changed) when the directory has
    none of the source files or one of them is mostly malformed.
    """
    directory = Path(directory)
    missing = [name for name in SOURCE_FILES if not present(directory, name)]
    if len(missing) == len(SOURCE_FILES):
        raise NetIntelUpdateError(
            f"{directory} holds none of the source files ({', '.join(SOURCE_FILES)})"
        )
    files: dict[str, FileReport] = {}
    now = now or timezone.now()
    try:
        with transaction.atomic():
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_ADVISORY_LOCK])
            previous = NetIntelDataset.objects.order_by("-id").values_list("id", flat=True).first()
            dataset = NetIntelDataset.objects.create(
                loaded_at=now, source=(source or f"directory {directory}")[:500]
            )
            counts = _write_sources(dataset.pk, directory, files)
            for name, value in counts.items():
                setattr(dataset, name, value)
            dataset.summary = {
                "files": {name: report.as_dict() for name, report in files.items()},
                "missing": missing,
            }
            dataset.save(update_fields=["summary", *counts])
            # Compiled once here, so each process loads arrays instead of ranges.
            NetIntelSnapshot.objects.create(
                dataset=dataset, format=FORMAT, data=snapshot_dumps(dataset_compile(dataset))
            )
            if previous is not None:  # the previous dataset stays for processes still reading it
                NetIntelDataset.objects.filter(id__lt=previous).delete()
            event_record(
                kind="netintel_updated",
                decision="allow",
                reason="updated",
                details={"dataset": dataset.pk, **counts, "missing": missing},
            )
            transaction.on_commit(lambda: _published(dataset.pk))
    except NetIntelUpdateError as error:
        _record_failure(str(error))
        raise
    return UpdateResult(dataset=dataset, files=files, missing=missing)


def _published(dataset_id: int) -> None:
    registry.invalidate()
    version_publish(NETINTEL_VERSION_CACHE_KEY, dataset_id)


def _record_failure(message: str) -> None:
    try:
        event_record(
            kind="netintel_update_failed",
            decision="alert",
            reason="update_failed",
            details={"error": message[:500]},
        )
    except Exception:  # the command still reports the failure
        logger.warning("Could not record a failed network-origin update", exc_info=True)
