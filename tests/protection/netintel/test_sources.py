"""Reading the source formats line by line: what counts, what is skipped, what is malformed."""

import gzip
import io

from protection.netintel.sources import (
    FileReport,
    open_text,
    read_class_list,
    read_cloud_ranges,
    read_ip2asn,
)
from tests.support.netintel import IP2ASN_V4, IP2ASN_V6, aws_ranges, google_ranges


def _ip2asn(text: str) -> tuple[list, FileReport]:
    report = FileReport("ip2asn-v4.tsv")
    return list(read_ip2asn(io.StringIO(text), report)), report


def test_ip2asn_rows_become_ranges_and_not_routed_rows_are_counted_apart():
    entries, report = _ip2asn(IP2ASN_V4)
    assert [(e.asn, e.country, e.name) for e in entries] == [
        (64500, "XA", "EXAMPLE-HOSTING Example Hosting Ltd"),
        (64501, "XB", "DOC-ISP Documentation Broadband"),
        (65536, "XA", "BIG-AS Four-byte networks"),
        (64502, "", "BENCH-NET"),  # "None": a routed range without a country
    ]
    assert entries[0].first == 0xC0000200 and entries[0].last == 0xC000027F
    assert report.skipped == {"not_routed": 1}
    assert report.malformed == 0 and not report.rejected


def test_ip2asn_v6_rows_keep_full_addresses():
    report = FileReport("ip2asn-v6.tsv")
    (first, second) = read_ip2asn(io.StringIO(IP2ASN_V6), report)
    assert first.family == 6 and first.first == 0x20010DB8 << 96
    assert second.asn == 65551 and second.country == "XC"


def test_malformed_lines_are_counted_with_their_numbers_not_raised():
    text = (
        "192.0.2.0\t192.0.2.255\t64500\tXA\tOK\n"
        "192.0.2.x\t192.0.2.255\t64500\tXA\tbad address\n"
        "192.0.2.9\t192.0.2.1\t64500\tXA\tend before start\n"
        "192.0.2.0\t2001:db8::1\t64500\tXA\tmixed families\n"
        "198.51.100.0\t198.51.100.255\tAS64500\tXA\tnot a number\n"
        "198.51.100.0\t198.51.100.255\t99999999999\tXA\ttoo large\n"
        "only two\tfields\n"
        "\n"
        "198.51.100.0\t198.51.100.255\t64501\tX\t\n"
    )
    entries, report = _ip2asn(text)
    assert [e.asn for e in entries] == [64500, 64501]
    assert entries[1].country == "" and entries[1].name == ""
    assert report.malformed == 6
    assert report.malformed_lines == [2, 3, 4, 5, 6]  # the first five
    assert report.rejected  # 6 of 8 entries


def test_a_few_bad_lines_do_not_reject_a_file():
    good = "".join(f"192.0.2.{i}\t192.0.2.{i}\t64500\tXA\tN\n" for i in range(10))
    _, report = _ip2asn(good + "garbage\n")
    assert report.malformed == 1 and not report.rejected


def test_class_lists_take_ips_and_cidrs_with_comments():
    text = (
        "# exits\n192.0.2.10\n198.51.100.0/24  # a range\n2001:db8::/32\n\nnot-an-ip\n"
        "192.0.2.1/24\n"
    )
    report = FileReport("tor.txt")
    entries = list(read_class_list(io.StringIO(text), report, "tor"))
    assert [(e.family, e.last - e.first + 1) for e in entries] == [
        (4, 1),
        (4, 256),
        (6, 2**96),
        (4, 256),  # host bits set: the network it is in
    ]
    assert {e.network_class for e in entries} == {"tor"}
    assert report.malformed == 1 and report.malformed_lines == [6]


def test_aws_and_google_files_are_hosting_ranges():
    report = FileReport("ip-ranges.json")
    aws = list(
        read_cloud_ranges(
            io.StringIO(aws_ranges("198.51.100.0/24", "2001:db8::/32")), report, "aws"
        )
    )
    assert [(e.family, e.network_class, e.source) for e in aws] == [
        (4, "hosting", "aws"),
        (6, "hosting", "aws"),
    ]
    report = FileReport("cloud.json")
    google = list(read_cloud_ranges(io.StringIO(google_ranges("203.0.113.0/24")), report, "google"))
    assert [(e.family, e.source) for e in google] == [(4, "google")]


def test_a_cloud_file_that_is_not_json_or_has_no_prefixes_is_rejected():
    for text, error in (("<html>rate limited</html>", "not valid JSON"), ("{}", "no prefixes")):
        report = FileReport("ip-ranges.json")
        assert list(read_cloud_ranges(io.StringIO(text), report, "aws")) == []
        assert report.rejected and report.error == error


def test_gzipped_files_are_read_when_only_they_exist(tmp_path):
    with gzip.open(tmp_path / "ip2asn-v4.tsv.gz", "wt") as packed:
        packed.write(IP2ASN_V4)
    with open_text(tmp_path / "ip2asn-v4.tsv") as lines:
        assert len(list(read_ip2asn(lines, FileReport("x")))) == 4
