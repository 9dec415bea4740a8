"""netintel_update: one transaction per dataset, malformed files refused whole,
the previous dataset kept, and the stored snapshot equal to the ranges."""

import json

import pytest
from django.core.management import call_command

from protection.core.events import SecurityEvent
from protection.netintel import netintel_classify
from protection.netintel.loading import dataset_compile, dataset_load
from protection.netintel.models import (
    AsnRange,
    AutonomousSystem,
    ClassRange,
    NetIntelDataset,
    NetIntelSnapshot,
)
from protection.netintel.services import NetIntelUpdateError, netintel_update
from protection.netintel.snapshot import snapshot_dumps, snapshot_loads
from tests.support.netintel import aws_ranges, google_ranges, load_sources, write_sources

pytestmark = pytest.mark.django_db


def test_a_directory_becomes_the_current_dataset(tmp_path):
    result = netintel_update(directory=write_sources(tmp_path))
    dataset = result.dataset
    assert (dataset.asn_ranges, dataset.class_ranges, dataset.autonomous_systems) == (6, 6, 5)
    assert AsnRange.objects.filter(dataset=dataset).count() == 6
    assert ClassRange.objects.filter(dataset=dataset).count() == 6
    names = dict(AutonomousSystem.objects.values_list("asn", "name"))
    assert names[65536] == "BIG-AS Four-byte networks" and names[65551] == "V6-ONLY"
    assert result.missing == ["ip-ranges.json", "cloud.json"]
    assert result.files["ip2asn-v4.tsv"].skipped == {"not_routed": 1}
    event = SecurityEvent.objects.get(kind="netintel_updated")
    assert event.details["dataset"] == dataset.pk and event.details["asn_ranges"] == 6


def test_the_snapshot_processes_load_equals_the_ranges_compiled(tmp_path):
    dataset = netintel_update(
        directory=write_sources(tmp_path, ip_ranges=aws_ranges("198.18.0.0/16"))
    ).dataset
    from_rows = dataset_compile(dataset)
    stored = NetIntelSnapshot.objects.get(dataset=dataset)
    assert snapshot_dumps(snapshot_loads(bytes(stored.data))) == snapshot_dumps(from_rows)
    loaded = dataset_load(dataset.pk)
    for ip in ("192.0.2.10", "198.18.3.4", "2001:db8:1::9", "203.0.113.5", "198.51.100.200"):
        assert loaded.classify(ip) == from_rows.classify(ip)


def test_an_unreadable_snapshot_falls_back_to_compiling_the_ranges(tmp_path):
    dataset = netintel_update(directory=write_sources(tmp_path)).dataset
    NetIntelSnapshot.objects.filter(dataset=dataset).update(data=b"not zlib")
    assert dataset_load(dataset.pk).classify("192.0.2.130").asn == 64501


def test_each_update_keeps_only_the_previous_dataset(tmp_path):
    ids = [netintel_update(directory=write_sources(tmp_path)).dataset.pk for _ in range(3)]
    assert list(NetIntelDataset.objects.order_by("id").values_list("id", flat=True)) == ids[1:]
    assert set(AsnRange.objects.values_list("dataset_id", flat=True)) == set(ids[1:])
    assert dataset_load(0).dataset_id == ids[-1]  # "whatever is current"
    assert dataset_load(ids[0]).dataset_id == ids[-1]  # gone: the newest one


def test_a_mostly_malformed_file_fails_the_update_and_keeps_the_previous_data(tmp_path):
    load_sources(tmp_path / "good")
    before = NetIntelDataset.objects.get()
    garbage = "<html>\n<body>Service Unavailable</body>\n" + "192.0.2.0\t192.0.2.9\t64500\tXA\tok\n"
    with pytest.raises(NetIntelUpdateError, match="ip2asn-v4.tsv: 2 of 3 entries are malformed"):
        netintel_update(directory=write_sources(tmp_path / "bad", ip2asn_v4=garbage))
    assert list(NetIntelDataset.objects.all()) == [before]
    assert AsnRange.objects.exclude(dataset=before).count() == 0
    failure = SecurityEvent.objects.get(kind="netintel_update_failed")
    assert failure.decision == "alert" and "ip2asn-v4.tsv" in failure.details["error"]
    assert netintel_classify("192.0.2.130").asn == 64501  # still answering from the old data


def test_a_broken_cloud_file_fails_the_update(tmp_path):
    with pytest.raises(NetIntelUpdateError, match="cloud.json: not valid JSON"):
        netintel_update(directory=write_sources(tmp_path, cloud="{"))
    assert not NetIntelDataset.objects.exists()


def test_a_directory_without_source_files_is_refused(tmp_path):
    (tmp_path / "README").write_text("nothing here")
    with pytest.raises(NetIntelUpdateError, match="holds none of the source files"):
        netintel_update(directory=tmp_path)


def test_a_directory_with_only_some_files_loads_them(tmp_path):
    (tmp_path / "tor.txt").write_text("192.0.2.10\n")
    dataset = netintel_update(directory=tmp_path).dataset
    assert (dataset.asn_ranges, dataset.class_ranges) == (0, 1)
    origin = netintel_classify("192.0.2.10")
    assert (origin.asn, origin.network_class, origin.unknown) == (None, "tor", False)


def test_google_and_aws_ranges_classify_as_hosting(tmp_path):
    load_sources(
        tmp_path,
        ip_ranges=aws_ranges("198.18.0.0/16", "2001:db8:2::/48"),
        cloud=google_ranges("198.19.0.0/16"),
    )
    assert netintel_classify("198.18.200.1").network_class == "hosting"
    assert netintel_classify("198.19.0.1").network_class == "hosting"
    assert netintel_classify("2001:db8:2::1").network_class == "hosting"
    assert netintel_classify("2001:db8:3::1").network_class == ""


def test_the_command_reports_in_json(tmp_path, capsys):
    write_sources(tmp_path, ip2asn_v4="192.0.2.0\t192.0.2.255\t64500\tXA\tok\nbroken\n" * 3)
    call_command("netintel_update", "--from", str(tmp_path), "--json")
    report = json.loads(capsys.readouterr().out)
    assert report["asn_ranges"] == 5 and report["class_ranges"] == 6
    assert report["files"]["ip2asn-v4.tsv"] == {
        "entries": 3,
        "malformed": 3,
        "malformed_lines": [2, 4, 6],
    }
    assert report["missing"] == ["ip-ranges.json", "cloud.json"]
