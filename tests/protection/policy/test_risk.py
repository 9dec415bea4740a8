"""Risk tiers: the inputs' weights, the tier a risk makes, and the weights and
thresholds tables (settings, policy file)."""

import io
from pathlib import Path

import pytest
from django.core import checks
from django.core.management import call_command

from protection.conf import DEFAULTS, gatehouse_settings
from protection.policy.risk import (
    RiskInputs,
    risk_points,
    risk_score,
    risk_thresholds,
    risk_thresholds_problems,
    risk_tier,
    risk_weights,
    risk_weights_problems,
    tier_max,
)

WEIGHTS = DEFAULTS["CHALLENGE_RISK_WEIGHTS"]


@pytest.mark.parametrize(
    ("risk", "tier"),
    [(0, "low"), (29, "low"), (30, "elevated"), (59, "elevated"), (60, "high"), (89, "high")]
    + [(90, "critical"), (100, "critical")],
)
def test_the_default_thresholds_map_risk_to_tiers(risk, tier):
    assert risk_tier(risk) == tier


def test_thresholds_are_a_setting_and_101_turns_a_tier_off(settings):
    settings.GATEHOUSE = {
        **settings.GATEHOUSE,
        "CHALLENGE_RISK_THRESHOLDS": {"elevated": 10, "critical": 101},
    }
    assert risk_thresholds() == {"elevated": 10, "high": 60, "critical": 101}
    assert risk_tier(10) == "elevated"
    assert risk_tier(100) == "high"  # nothing is critical any more


def test_a_clean_client_weighs_nothing():
    assert risk_points(RiskInputs()) == {}
    assert risk_tier(risk_score({})) == "low"


def test_each_input_adds_its_weight_and_positive_evidence_subtracts():
    points = risk_points(
        RiskInputs(network_class="hosting", ip_denials=3, key_pressure=True, attested=True)
    )
    assert points == {
        "network_hosting": 30,
        "ip_denials": 12,
        "key_pressure": 10,
        "attested": -30,
    }
    assert risk_score(points) == 22


def test_denials_count_up_to_denials_counted_each():
    points = risk_points(RiskInputs(ip_denials=500, device_denials=500))
    assert points == {"ip_denials": 4 * 15, "device_denials": 5 * 15}


@pytest.mark.parametrize(
    ("inputs", "tier"),
    [
        # One signal alone never denies: that takes a bad network and a bad history.
        (RiskInputs(network_class="tor"), "elevated"),
        (RiskInputs(network_class="vpn"), "low"),
        (RiskInputs(network_class="hosting"), "elevated"),
        (RiskInputs(ip_denials=8), "elevated"),
        (RiskInputs(ip_denials=1000), "high"),
        (RiskInputs(device_denials=1000), "high"),
        (RiskInputs(network_class="hosting", ip_denials=15), "critical"),
        (RiskInputs(network_class="tor", ip_denials=12), "critical"),
        # A valid Private Access Token takes that back to elevated.
        (RiskInputs(network_class="hosting", ip_denials=15, pat=True), "elevated"),
        # An attested app on a VPN, a returning DPoP key on a cloud: low.
        (RiskInputs(network_class="vpn", attested=True), "low"),
        (RiskInputs(network_class="hosting", dpop_returning=True), "low"),
        (RiskInputs(velocity=True, attestation_missing=True), "elevated"),
    ],
)
def test_the_default_weights_put_clients_in_these_tiers(inputs, tier):
    assert risk_tier(risk_score(risk_points(inputs))) == tier


def test_the_risk_stays_between_0_and_100():
    assert risk_score(risk_points(RiskInputs(pat=True, attested=True))) == 0
    assert risk_score({"a": 80, "b": 80}) == 100


def test_weights_are_a_setting_merged_over_the_defaults(settings):
    settings.GATEHOUSE = {
        **settings.GATEHOUSE,
        "CHALLENGE_RISK_WEIGHTS": {"network_vpn": 40, "velocity": True, "nonsense": 3},
    }
    weights = risk_weights()
    assert weights["network_vpn"] == 40
    assert weights["velocity"] == WEIGHTS["velocity"]  # malformed (a bool): the default
    assert "nonsense" not in weights
    assert risk_tier(risk_score(risk_points(RiskInputs(network_class="vpn")))) == "elevated"


def test_tier_max():
    assert tier_max("low", "high", "elevated") == "high"
    assert tier_max("low", "") == "low"
    assert tier_max("critical", "nonsense") == "critical"


# --- validation -----------------------------------------------------------------


def test_the_default_tables_are_valid():
    assert risk_weights_problems(WEIGHTS) == []
    assert risk_thresholds_problems(DEFAULTS["CHALLENGE_RISK_THRESHOLDS"]) == []


def test_weights_problems_name_the_entry():
    problems = risk_weights_problems(
        {"network_moon": 1, "velocity": 1.5, "pat": -101, "denials_counted": -1, "attested": True}
    )
    assert [(p.path, p.message) for p in problems] == [
        (("network_moon",), problems[0].message),
        (("velocity",), "1.5 is not a whole number in -100..100"),
        (("pat",), "-101 is not a whole number in -100..100"),
        (("denials_counted",), "how many denials count cannot be negative"),
        (("attested",), "True is not a whole number in -100..100"),
    ]
    assert problems[0].message.startswith("unknown risk input: choose from network_tor")


def test_thresholds_must_not_decrease_once_merged():
    assert risk_thresholds_problems({"high": 20}, base={"elevated": 30, "critical": 90}) != []
    assert risk_thresholds_problems({"high": 40}, base={"elevated": 30, "critical": 90}) == []
    problems = risk_thresholds_problems({"medium": 40, "high": 0})
    assert [p.path for p in problems] == [("medium",), ("high",)]


def test_malformed_settings_are_system_checks(settings):
    settings.GATEHOUSE = {
        **settings.GATEHOUSE,
        "CHALLENGE_RISK_WEIGHTS": {"velocity": "high"},
        "CHALLENGE_RISK_THRESHOLDS": {"elevated": 70, "high": 60},
    }
    ids = {message.id for message in checks.run_checks()}
    assert {"protection.E301", "protection.E302"} <= ids


# --- the policy file ---------------------------------------------------------------


def _policy_check(path: Path) -> tuple[int, str]:
    err = io.StringIO()
    try:
        call_command("policy_check", str(path), stdout=io.StringIO(), stderr=err)
    except SystemExit as exited:
        return int(exited.code), err.getvalue()
    return 0, err.getvalue()


def test_the_policy_file_sets_weights_and_thresholds_entry_by_entry(tmp_path, settings):
    path = tmp_path / "policy.toml"
    path.write_text(
        "[challenge_risk_weights]\nnetwork_vpn = 25\n\n[challenge_risk_thresholds]\nelevated = 25\n"
    )
    assert _policy_check(path) == (0, "")
    settings.GATEHOUSE = {**settings.GATEHOUSE, "POLICY_FILE": str(path)}
    assert gatehouse_settings.CHALLENGE_RISK_WEIGHTS == {**WEIGHTS, "network_vpn": 25}
    assert gatehouse_settings.CHALLENGE_RISK_THRESHOLDS == {
        "elevated": 25,
        "high": 60,
        "critical": 90,
    }
    assert risk_tier(risk_score(risk_points(RiskInputs(network_class="vpn")))) == "elevated"


def test_policy_check_refuses_bad_weights_and_thresholds(tmp_path):
    path = tmp_path / "policy.toml"
    path.write_text(
        '[challenge_risk_weights]\nvelocity = "a lot"\n\n[challenge_risk_thresholds]\nhigh = 95\n'
    )
    code, err = _policy_check(path)
    assert code == 1
    assert err.splitlines() == [
        f'policy file {path}, table [challenge_risk_weights], key "velocity": '
        "'a lot' is not a whole number in -100..100",
        f'policy file {path}, key "challenge_risk_thresholds": thresholds must not '
        "decrease: elevated <= high <= critical",
    ]
