"""Policy as a file: what gatehouse_settings returns with a POLICY_FILE, how the
file merges over the settings, and how a bad file is reported (manage.py check,
policy_check, policy_show)."""

import io
import json
import tomllib
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from protection.conf import DEFAULTS, gatehouse_settings, policy_effective
from signup.conf import signup_settings

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "deploy" / "policy" / "example.toml"
RULE = {
    "name": "extra",
    "dimension": "ip",
    "kinds": ["rate_limited"],
    "threshold": 5,
    "window": 60,
    "duration": 60,
}


@pytest.fixture
def policy_file(tmp_path: Path, settings: Any):
    """Write a policy file and point POLICY_FILE at it (on top of ``python``)."""

    def write(text: str, **python: Any) -> Path:
        path = tmp_path / "policy.toml"
        path.write_text(text)
        settings.GATEHOUSE = {**settings.GATEHOUSE, **python, "POLICY_FILE": str(path)}
        return path

    return write


def rule_names() -> list[str]:
    return [rule["name"] for rule in gatehouse_settings.AUTO_BLOCK_RULES]


# --- precedence and merging -----------------------------------------------------


def test_the_file_wins_over_python_settings_which_win_over_defaults(policy_file):
    policy_file(
        '[rate_limits.lookup]\nip = ["7/m"]\n',
        RATE_LIMITS={"lookup": {"ip": ["1/m"], "key": ["2/m"]}},
        RATE_LIMITS_OBSERVE=["lookup:key"],
    )
    # The file's lookup.ip; the Python settings' lookup.key; the Python
    # settings replaced the default groups whole, as they always did.
    assert gatehouse_settings.RATE_LIMITS == {"lookup": {"ip": ["7/m"], "key": ["2/m"]}}
    assert gatehouse_settings.RATE_LIMITS_OBSERVE == ["lookup:key"]  # not in the file
    assert gatehouse_settings.DENIALS_WINDOW == DEFAULTS["DENIALS_WINDOW"]


def test_tables_merge_per_group_and_dimension(policy_file):
    policy_file('[rate_limits.lookup]\nip = ["30/m"]\n\n[rate_limits.create]\nsession = []\n')
    limits = gatehouse_settings.RATE_LIMITS
    default = DEFAULTS["RATE_LIMITS"]
    assert limits["lookup"] == {**default["lookup"], "ip": ["30/m"]}
    assert limits["create"] == {**default["create"], "session": []}
    assert limits["challenge"] == default["challenge"]


def test_other_values_replace(policy_file):
    policy_file('rate_limits_observe = ["lookup"]\nsignup_create_ip_rate = "3/d"\n')
    assert gatehouse_settings.RATE_LIMITS_OBSERVE == ["lookup"]
    assert signup_settings.SIGNUP_CREATE_IP_RATE == "3/d"


def test_rules_merge_by_name(policy_file):
    policy_file(
        "[[auto_block_rules]]\n"
        'name = "ip-rate-limited"\ndimension = "ip"\nkinds = ["rate_limited"]\n'
        "threshold = 999\nwindow = 60\nduration = 60\n\n"
        '[[auto_block_rules]]\nname = "device-abuse"\nenabled = false\n\n'
        "[[auto_block_rules]]\n"
        'name = "extra"\ndimension = "ip"\nkinds = ["rate_limited"]\n'
        "threshold = 5\nwindow = 60\nduration = 60\nenabled = true\n"
    )
    defaults = [rule["name"] for rule in DEFAULTS["AUTO_BLOCK_RULES"]]
    assert rule_names() == [name for name in defaults if name != "device-abuse"] + ["extra"]
    replaced = gatehouse_settings.AUTO_BLOCK_RULES[0]
    assert replaced["threshold"] == 999 and "escalation" not in replaced  # replaced whole
    assert gatehouse_settings.AUTO_BLOCK_RULES[-1] == RULE  # "enabled" is not kept


def test_settings_changes_reread_the_file(policy_file, settings):
    path = policy_file('[rate_limits.lookup]\nip = ["1/m"]\n')
    assert gatehouse_settings.RATE_LIMITS["lookup"]["ip"] == ["1/m"]
    path.write_text('[rate_limits.lookup]\nip = ["2/m"]\n')
    assert gatehouse_settings.RATE_LIMITS["lookup"]["ip"] == ["1/m"]  # read once, not per access
    settings.GATEHOUSE = {**settings.GATEHOUSE}
    assert gatehouse_settings.RATE_LIMITS["lookup"]["ip"] == ["2/m"]
    settings.GATEHOUSE = {k: v for k, v in settings.GATEHOUSE.items() if k != "POLICY_FILE"}
    assert gatehouse_settings.RATE_LIMITS == DEFAULTS["RATE_LIMITS"]


def test_an_unreadable_file_is_logged_and_not_applied(policy_file, caplog):
    policy_file('[rate_limits.lookup\nip = ["1/m"]\n')
    assert gatehouse_settings.RATE_LIMITS == DEFAULTS["RATE_LIMITS"]
    assert "is not valid TOML" in caplog.text and "line 1" in caplog.text


def test_the_defaults_are_not_modified_by_a_merge(policy_file):
    before = json.dumps(DEFAULTS["RATE_LIMITS"]), json.dumps(DEFAULTS["AUTO_BLOCK_RULES"])
    policy_file(
        '[rate_limits.lookup]\nip = ["1/m"]\n[[auto_block_rules]]\nname = "ip-enumeration"\n'
        "enabled = false\n"
    )
    assert "ip-enumeration" not in rule_names()
    assert (json.dumps(DEFAULTS["RATE_LIMITS"]), json.dumps(DEFAULTS["AUTO_BLOCK_RULES"])) == before


# --- manage.py check --------------------------------------------------------------


def check_output(**kwargs: Any) -> str:
    with pytest.raises(SystemCheckError) as raised:
        call_command("check", **kwargs)
    return str(raised.value)


def test_a_bad_rate_fails_check_naming_file_table_and_key(policy_file):
    path = policy_file('[rate_limits.lookup]\nip = ["30/x"]\n')
    output = check_output()
    assert "protection.E102" in output
    assert f"policy file {path}, table [rate_limits.lookup], key \"ip\": '30/x' is not a rate" in (
        output
    )


def test_a_bad_key_fails_check_naming_file_table_and_key(policy_file):
    path = policy_file('[rate_limits.lookup]\nipv4 = ["30/m"]\n\n[rate_limit.lookup]\nip = []\n')
    output = check_output()
    assert (
        f'policy file {path}, table [rate_limits.lookup], key "ipv4": unknown dimension' in output
    )
    assert "protection.E101" in output
    assert f"policy file {path}, table [rate_limit]: not a policy setting; did you mean " in output


def test_an_unknown_event_kind_fails_check_naming_file_table_and_key(policy_file):
    path = policy_file(
        '[[auto_block_rules]]\nname = "typo"\ndimension = "ip"\nkinds = ["rate_limted"]\n'
        "threshold = 5\nwindow = 60\nduration = 60\n"
    )
    output = check_output()
    assert (
        f'policy file {path}, table [[auto_block_rules]] (name "typo"), key "kinds": '
        "'rate_limted' is neither a declared event kind nor a declared reason" in output
    )


def test_a_missing_or_broken_file_fails_check_naming_it(policy_file, tmp_path, settings):
    path = policy_file("[rate_limits.lookup]\nip = 30/m\n")
    output = check_output()
    assert "protection.E100" in output and f"policy file {path} is not valid TOML" in output
    assert "(at line 2, column " in output
    settings.GATEHOUSE = {**settings.GATEHOUSE, "POLICY_FILE": str(tmp_path / "missing.toml")}
    assert f"policy file {tmp_path / 'missing.toml'} does not exist" in check_output()


def test_an_app_registered_policy_setting_is_checked_by_its_validator(policy_file):
    path = policy_file('signup_create_ip_rate = "10 a day"\nrate_limits_observe = ["lokup"]\n')
    output = check_output()
    assert f"policy file {path}, key \"signup_create_ip_rate\": '10 a day' is not a rate" in output
    assert f"policy file {path}, key \"rate_limits_observe\": 'lokup': no group 'lokup'" in output


def test_removing_a_rule_that_does_not_exist_only_warns(policy_file):
    policy_file('[[auto_block_rules]]\nname = "no-such-rule"\nenabled = false\n')
    call_command("check")  # a warning: nothing to fix, nothing removed
    with pytest.raises(SystemCheckError, match="protection.W100"):
        call_command("check", fail_level="WARNING")


def test_the_example_file_passes_check(settings):
    settings.GATEHOUSE = {**settings.GATEHOUSE, "POLICY_FILE": str(EXAMPLE)}
    call_command("check", fail_level="WARNING")
    assert rule_names()[-1] == "ip-invalid-keys"
    assert gatehouse_settings.RATE_LIMITS["create"]["ip"] == ["5/m", "50/d"]


# --- policy_check and policy_show -----------------------------------------------------


def policy_check(path: Path) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("policy_check", str(path), stdout=out, stderr=err)
    except SystemExit as exited:
        return int(exited.code), out.getvalue(), err.getvalue()
    return 0, out.getvalue(), err.getvalue()


def test_policy_check_passes_the_example():
    code, out, err = policy_check(EXAMPLE)
    assert (code, err) == (0, "")
    assert out.strip() == f"policy file {EXAMPLE} is valid"


def test_policy_check_prints_one_line_per_problem_and_exits_1(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text(
        '[rate_limits.lookup]\nip = ["30/x"]\n\n[[auto_block_rules]]\nname = "r"\n'
        'dimension = "ip"\nkinds = ["rate_limited"]\nthreshold = 0\nwindow = 60\n'
    )
    code, out, err = policy_check(path)
    assert (code, out) == (1, "")
    assert err.splitlines() == [
        f"policy file {path}, table [rate_limits.lookup], key \"ip\": '30/x' is not a rate "
        "like '10/m', '100/d' or '5/15m'",
        f'policy file {path}, table [[auto_block_rules]] (name "r"), key "threshold": '
        "0 is not a whole number of at least 1",
        f'policy file {path}, table [[auto_block_rules]] (name "r"), key "duration": missing',
    ]


def test_policy_check_of_a_file_that_does_not_parse(tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text('rate_limits_observe = ["lookup"]\n[rate_limits\n')
    code, _, err = policy_check(path)
    assert code == 1
    assert err.strip().startswith(f"policy file {path} is not valid TOML")
    assert "(at line 2" in err


def test_policy_show_json_prints_every_policy_setting_in_force(policy_file):
    policy_file('[rate_limits.lookup]\nip = ["9/m"]\n')
    out = io.StringIO()
    call_command("policy_show", "--json", stdout=out)
    shown = json.loads(out.getvalue())
    assert set(shown) == {
        "rate_limits",
        "rate_limits_observe",
        "auto_block_rules",
        "network_policy",
        "label_fraud_blocks",
        "challenge_ladder",
        "challenge_risk_thresholds",
        "challenge_risk_weights",
        "signup_lookup_identifier_rate",
        "signup_lookup_distinct_per_ip_rate",
        "signup_lookup_distinct_per_key_rate",
        "signup_create_ip_rate",
        "signup_shared_limits_observe",
        "signup_verify_sends_per_address_rate",
        "signup_confirm_identifier_rate",
        "signup_confirm_device_rate",
        "sms_country_rate",
        "sms_key_rate",
    }
    assert shown["rate_limits"]["lookup"] == {**DEFAULTS["RATE_LIMITS"]["lookup"], "ip": ["9/m"]}
    assert shown["auto_block_rules"] == DEFAULTS["AUTO_BLOCK_RULES"]


def test_policy_show_toml_is_a_policy_file_of_the_same_policy(tmp_path):
    out = io.StringIO()
    call_command("policy_show", stdout=out)
    assert tomllib.loads(out.getvalue()) == json.loads(json.dumps(policy_effective()))
    path = tmp_path / "shown.toml"
    path.write_text(out.getvalue())
    assert policy_check(path)[0] == 0
