"""The policy file's merge and TOML writer on their own (protection.policyfile)."""

import tomllib

import pytest

from protection.policyfile import (
    BY_NAME,
    DEEP,
    REPLACE,
    PolicyFileError,
    policy_file_read,
    policy_merge,
    policy_toml,
)


def test_deep_merge_keeps_what_the_overlay_does_not_name():
    base = {"lookup": {"ip": ["1/m"], "key": ["2/m"]}, "create": {"ip": ["3/m"]}}
    merged = policy_merge(base, {"lookup": {"ip": ["9/m"]}}, merge=DEEP)
    assert merged == {"lookup": {"ip": ["9/m"], "key": ["2/m"]}, "create": {"ip": ["3/m"]}}
    assert base["lookup"]["ip"] == ["1/m"]  # not modified


def test_merge_by_name_replaces_removes_and_appends_in_place():
    base = [{"name": "a", "x": 1}, {"name": "b", "x": 2}, {"name": "c", "x": 3}]
    overlay = [{"name": "b", "x": 20}, {"name": "a", "enabled": False}, {"name": "d", "x": 4}]
    assert policy_merge(base, overlay, merge=BY_NAME) == [
        {"name": "b", "x": 20},
        {"name": "c", "x": 3},
        {"name": "d", "x": 4},
    ]
    assert len(base) == 3


def test_replace_replaces():
    assert policy_merge(["a", "b"], ["c"], merge=REPLACE) == ["c"]


def test_toml_written_reads_back_the_same(tmp_path):
    document = {
        "top": ["a:b", 'quote " and \\ backslash', "é"],
        "rate": "10/m",
        "tables": {"plain": {"ip": ["1/m"]}, "odd key.name": {"on": True, "n": 1.5}},
        "rules": [{"name": "r", "kinds": ["x"], "threshold": 3}],
    }
    path = tmp_path / "written.toml"
    path.write_text(policy_toml(document))
    assert policy_file_read(path) == document
    assert tomllib.loads(policy_toml({"empty": {}})) == {"empty": {}}


def test_a_missing_file_is_an_error_naming_it(tmp_path):
    with pytest.raises(PolicyFileError, match=r"policy file .*nope\.toml does not exist"):
        policy_file_read(tmp_path / "nope.toml")
