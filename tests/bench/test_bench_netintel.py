"""bench/bench_netintel.py's generated dataset is what it says: valid files in the
real formats, only private-use AS numbers, loaded without a malformed line."""

import pytest

from bench.bench_netintel import write_dataset
from protection.netintel import netintel_classify
from protection.netintel.services import netintel_update


@pytest.mark.django_db
def test_the_generated_dataset_loads_whole(tmp_path):
    write_dataset(tmp_path, ranges=2000)
    result = netintel_update(directory=tmp_path)
    assert result.missing == ["cloud.json"]
    assert all(report.malformed == 0 for report in result.files.values())
    assert result.dataset.asn_ranges == 2000
    asns = {line.split("\t")[2] for line in (tmp_path / "ip2asn-v4.tsv").read_text().splitlines()}
    assert all(64512 <= int(a) <= 65534 or int(a) >= 4_200_000_000 for a in asns)
    # The documentation ranges are in every class list: the first class wins.
    assert netintel_classify("192.0.2.1").network_class == "tor"
