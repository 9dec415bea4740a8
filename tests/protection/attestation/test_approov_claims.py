"""Approov tokens of the wrong type or with a nonsensical ``exp`` are refused
(issue 23, point 10): ``typ`` ``at+jwt``, ``exp`` NaN, ``exp`` 1e30 or ten
years ahead were accepted."""

import datetime

import pytest

from tests.support.approov import RAW_KEY, refused, token, verify
from tests.support.attestation import NOW, hmac_token, sha256_b64

pytestmark = pytest.mark.django_db


def _claims(**claims):
    return {"did": "ZGV2aWNlLTE=", "pay": sha256_b64(RAW_KEY), **claims}


@pytest.mark.parametrize("typ", ["at+jwt", "JOSE", "", 1])
def test_a_token_typed_other_than_jwt_is_refused(key, secret, typ):
    header = {"alg": "HS256", "typ": typ}
    signed = hmac_token(header, _claims(exp=int(NOW.timestamp()) + 60), secret)
    assert refused(key, signed) == "approov_typ_invalid"


@pytest.mark.parametrize("typ", ["JWT", "jwt", None])
def test_jwt_or_no_typ_is_accepted(key, secret, typ):
    header = {"alg": "HS256", **({"typ": typ} if typ else {})}
    signed = hmac_token(header, _claims(exp=int(NOW.timestamp()) + 60), secret)
    assert verify(key, signed).verified == ("approov",)


@pytest.mark.parametrize("exp", [float("nan"), float("inf"), float("-inf"), 10**400])
def test_a_non_finite_exp_is_refused(key, secret, exp):
    signed = hmac_token({"alg": "HS256", "typ": "JWT"}, _claims(exp=exp), secret)
    assert refused(key, signed) == "approov_exp_missing"


@pytest.mark.parametrize(
    "ahead", [1e30, 10 * 365 * 86400, 3600 + 60], ids=["1e30", "ten-years", "over-an-hour"]
)
def test_an_exp_beyond_the_maximum_lifetime_is_refused(key, secret, ahead):
    signed = token(secret, exp=NOW.timestamp() + ahead)
    assert refused(key, signed) == "approov_exp_too_far"


def test_the_maximum_lifetime_is_a_setting(key, secret, settings):
    settings.GATEHOUSE = {**settings.GATEHOUSE, "APPROOV_MAX_LIFETIME": 600}
    assert verify(key, token(secret, exp=int(NOW.timestamp()) + 300)).verified == ("approov",)
    later = int((NOW + datetime.timedelta(seconds=900)).timestamp())
    assert refused(key, token(secret, exp=later)) == "approov_exp_too_far"
