"""manage.py netintel_update: --from, downloads (from a local server only), and
every failure a clear CommandError that leaves the previous data in place."""

import gzip
import json

import pytest
from django.core.management import CommandError, call_command

from protection.netintel import netintel_classify
from protection.netintel.models import NetIntelDataset
from tests.support.netintel import (
    CLASSES,
    IP2ASN_V4,
    IP2ASN_V6,
    SourceServer,
    aws_ranges,
    load_sources,
    write_sources,
)

pytestmark = pytest.mark.django_db


def test_from_a_directory_prints_a_summary(tmp_path, capsys):
    write_sources(tmp_path, ip2asn_v4=IP2ASN_V4 + "not a line\n")
    call_command("netintel_update", "--from", str(tmp_path))
    out = capsys.readouterr().out
    dataset = NetIntelDataset.objects.get()
    assert out.splitlines()[0] == (
        f"Loaded network-origin dataset {dataset.pk} (directory {tmp_path}): 6 AS ranges "
        "of 5 autonomous systems, 6 class ranges"
    )
    assert "  ip2asn-v4.tsv: 4 entries, 1 skipped (not_routed), 1 malformed (lines 6…)" in out
    assert "  not present: ip-ranges.json, cloud.json" in out


def test_a_missing_directory_is_a_command_error(tmp_path):
    with pytest.raises(CommandError, match="is not a directory"):
        call_command("netintel_update", "--from", str(tmp_path / "nope"))


def test_a_rejected_file_is_a_command_error_and_keeps_the_data(tmp_path, capsys):
    load_sources(tmp_path / "good")
    write_sources(tmp_path / "bad", tor="garbage\n" * 10 + "192.0.2.10\n")
    with pytest.raises(CommandError, match="tor.txt: 10 of 11 entries are malformed"):
        call_command("netintel_update", "--from", str(tmp_path / "bad"), "--json")
    report = json.loads(capsys.readouterr().out)
    assert report["files"]["tor.txt"]["malformed"] == 10
    assert NetIntelDataset.objects.count() == 1
    assert netintel_classify("192.0.2.10").network_class == "tor"


def _sources(server_url: str, **names: str) -> dict[str, str]:
    return {name: f"{server_url}{path}" for name, path in names.items()}


def test_without_from_it_downloads_every_source(settings, capsys):
    files = {
        "/data/ip2asn-v4.tsv.gz": gzip.compress(IP2ASN_V4.encode()),
        "/data/ip2asn-v6.tsv.gz": gzip.compress(IP2ASN_V6.encode()),
        "/ip-ranges.json": aws_ranges("198.18.0.0/16").encode(),
        "/torbulkexitlist": CLASSES["tor"].encode(),
    }
    with SourceServer(files) as server:
        settings.GATEHOUSE = {
            **settings.GATEHOUSE,
            "NETINTEL_SOURCES": _sources(
                server.url,
                **{
                    "ip2asn-v4.tsv": "/data/ip2asn-v4.tsv.gz",
                    "ip2asn-v6.tsv": "/data/ip2asn-v6.tsv.gz",
                    "ip-ranges.json": "/ip-ranges.json",
                    "tor.txt": "/torbulkexitlist",
                },
            ),
        }
        call_command("netintel_update", "--json")
    report = json.loads(capsys.readouterr().out)
    assert report["source"] == "download"
    assert report["asn_ranges"] == 6 and report["files"]["ip-ranges.json"]["entries"] == 1
    assert netintel_classify("198.18.1.1").network_class == "hosting"
    assert netintel_classify("192.0.2.10").network_class == "tor"


def test_a_failed_download_fails_the_update(settings):
    with SourceServer({"/v4": IP2ASN_V4.encode()}) as server:
        settings.GATEHOUSE = {
            **settings.GATEHOUSE,
            "NETINTEL_SOURCES": _sources(
                server.url, **{"ip2asn-v4.tsv": "/v4", "tor.txt": "/gone"}
            ),
        }
        with pytest.raises(CommandError, match=r"tor.txt: could not download .*/gone.*404"):
            call_command("netintel_update")
    assert not NetIntelDataset.objects.exists()


def test_a_download_larger_than_the_cap_is_refused(settings):
    with SourceServer({"/v4": IP2ASN_V4.encode()}) as server:
        settings.GATEHOUSE = {
            **settings.GATEHOUSE,
            "NETINTEL_SOURCES": _sources(server.url, **{"ip2asn-v4.tsv": "/v4"}),
            "NETINTEL_DOWNLOAD_MAX_BYTES": 100,
        }
        with pytest.raises(CommandError, match="larger than NETINTEL_DOWNLOAD_MAX_BYTES"):
            call_command("netintel_update")


@pytest.mark.parametrize(
    ("sources", "message"),
    [
        ({"geoip.mmdb": "https://example.invalid/x"}, "unknown file"),
        ({"tor.txt": "file:///etc/passwd"}, "is not an http"),
    ],
)
def test_misconfigured_sources_are_refused_before_any_download(settings, sources, message):
    settings.GATEHOUSE = {**settings.GATEHOUSE, "NETINTEL_SOURCES": sources}
    with pytest.raises(CommandError, match=message):
        call_command("netintel_update")
