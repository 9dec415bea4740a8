"""``ladder_step``: what a tier asks of one client of one key, on top of the key's
floor, with the network policy, a Private Access Token and dry run."""

import pytest

from protection.keys.network_policy import ALLOWED, NetworkDecision
from protection.policy.ladder import POW_AT_CAP, POW_HARDER, POW_NORMAL, ladder_step

HARDER = NetworkDecision("harder", "", "hosting", "global")


class Key:
    """What the ladder reads of a key."""

    def __init__(self, required=("pow",), captcha="", ladder=None):
        self.public_id = "k1"
        self.required_verifications = list(required)
        self.captcha = captcha
        self.challenge_ladder = ladder or {}


def step(key, tier, network=ALLOWED, **options):
    return ladder_step(api_key=key, tier=tier, risk=0, network=network, **options)


def test_low_asks_the_floor_only():
    low = step(Key(), "low")
    assert (low.evidence, low.pow_level, low.requires) == ((), POW_NORMAL, ("pow",))
    assert step(Key(required=()), "low").requires == ()  # --require none stays none
    assert not low.pat_would_lower


def test_elevated_asks_a_harder_proof_of_work_even_of_a_key_without_pow():
    elevated = step(Key(), "elevated")
    assert (elevated.requires, elevated.pow_level) == (("pow",), POW_HARDER)
    none = step(Key(required=()), "elevated")
    assert (none.evidence, none.requires, none.pow_level) == (("pow",), ("pow",), POW_HARDER)


def test_high_asks_the_keys_captcha_or_pow_at_the_cap():
    with_captcha = step(Key(captcha="turnstile"), "high")
    assert (with_captcha.requires, with_captcha.pow_level) == (("pow", "turnstile"), POW_NORMAL)
    without = step(Key(), "high")
    assert (without.requires, without.pow_level) == (("pow",), POW_AT_CAP)


def test_the_floor_stays_whatever_the_tier():
    key = Key(required=("pow", "recaptcha", "app_check"), captcha="recaptcha")
    assert step(key, "high").requires == ("pow", "recaptcha", "app_check")


def test_critical_denies():
    critical = step(Key(), "critical")
    assert critical.denied and not critical.pat_would_lower


def test_a_keys_own_ladder_is_used():
    key = Key(captcha="hcaptcha", ladder={"elevated": ["captcha", "pow_hard"], "critical": []})
    elevated = step(key, "elevated")
    assert (elevated.requires, elevated.pow_level) == (("pow", "hcaptcha"), POW_HARDER)
    assert not step(key, "critical").denied


def test_the_network_policy_harder_is_at_least_pow_hard_and_require_adds():
    harder = step(Key(required=()), "low", network=HARDER)
    assert (harder.requires, harder.pow_level, harder.pat_would_lower) == (
        ("pow",),
        POW_HARDER,
        True,
    )
    required = step(Key(), "low", network=NetworkDecision("require", "turnstile", "vpn", "key"))
    assert required.requires == ("pow", "turnstile")
    attested = step(Key(), "low", network=NetworkDecision("require", "app_check", "vpn", "key"))
    assert (attested.evidence, attested.checks, attested.requires) == (
        (),
        ("app_check",),
        ("pow", "app_check"),
    )


def test_a_pat_replaces_what_the_ladder_added_never_the_floor_nor_a_network_requirement():
    key = Key(captcha="turnstile")
    high = step(key, "high", network=HARDER)
    assert (high.requires, high.pow_level) == (("pow", "turnstile"), POW_HARDER)
    assert high.requires_with_pat == ("pow", "pat")
    lowered = step(key, "high", network=HARDER, pat_tier="low")
    assert (lowered.requires, lowered.pow_level, lowered.pat_lowered) == (
        ("pow", "pat"),
        POW_NORMAL,
        True,
    )
    network = NetworkDecision("require", "hcaptcha", "vpn", "global")
    kept = step(key, "elevated", network=network, pat_tier="low")
    assert kept.requires == ("pow", "hcaptcha", "pat")


def test_a_pat_that_would_lower_nothing_is_not_asked_for():
    low = step(Key(), "low", pat_tier="low")
    assert (low.requires, low.pat_lowered) == (("pow",), False)


def test_a_pat_lifts_a_deny_only_when_its_weight_leaves_the_deny_tier():
    assert step(Key(), "critical", pat_tier="critical").denied
    lifted = step(Key(), "critical", pat_tier="elevated")
    assert (lifted.denied, lifted.pat_lowered, lifted.requires) == (False, True, ("pow", "pat"))


@pytest.mark.parametrize("tier", ["elevated", "high", "critical"])
def test_dry_run_asks_the_floor_and_says_what_it_would_have_asked(tier):
    key = Key(captcha="turnstile", ladder={"dry_run": True})
    dry = step(key, tier)
    assert (dry.requires, dry.pow_level, dry.denied, dry.dry_run) == (("pow",), 0, False, True)
    assert (dry.would_ask, dry.would_pow_level, dry.would_deny) == {
        "elevated": (("pow",), POW_HARDER, False),
        "high": (("turnstile",), POW_NORMAL, False),
        "critical": ((), POW_NORMAL, True),
    }[tier]
    assert dry.as_details()["would_ask"] == list(dry.would_ask)


def test_dry_run_keeps_the_network_policy():
    dry = step(Key(ladder={"dry_run": True}), "high", network=HARDER)
    assert (dry.requires, dry.pow_level) == (("pow",), POW_HARDER)


def test_the_pow_tier_sets_the_level_alone():
    # At session start: the tier says high (a CAPTCHA, or pow at the cap for a
    # key without one) but the challenge request could only see elevated.
    with_captcha = step(Key(captcha="turnstile"), "high", pow_tier="elevated")
    assert (with_captcha.requires, with_captcha.pow_level) == (("pow", "turnstile"), POW_HARDER)
    without = step(Key(), "high", pow_tier="low")
    assert (without.requires, without.pow_level) == (("pow",), POW_NORMAL)


def test_as_details_for_events():
    details = step(Key(captcha="turnstile"), "high").as_details()
    assert details == {"tier": "high", "score": 0, "asked": ["pow", "turnstile"], "pow_level": 0}
