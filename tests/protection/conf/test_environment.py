"""Environment variables read through their declarations (protection.environment)."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from protection.conf import DEFAULTS, ENVIRONMENT
from protection.environment import (
    Env,
    boolean,
    comma_list,
    env_read,
    environment_settings,
    networks,
    one_of,
    whole_number,
)


def test_unset_and_empty_mean_the_default():
    env = Env("GH_TEST_PROXIES", whole_number)
    assert env_read(env, 7, environ={}) == 7
    assert env_read(env, 7, environ={"GH_TEST_PROXIES": "  "}) == 7
    assert env_read(env, 7, environ={"GH_TEST_PROXIES": " 2 "}) == 2


def test_an_empty_value_can_be_a_value_when_declared_so():
    env = Env("GH_TEST_KEY", empty_is_value=True)
    assert env_read(env, "default", environ={"GH_TEST_KEY": ""}) == ""
    assert env_read(env, "default", environ={}) == "default"


@pytest.mark.parametrize(
    ("parser", "raw"),
    [
        (whole_number, "two"),
        (whole_number, "-1"),
        (boolean, "flase"),
        (networks, "10.0.0.0/8, 10.0.0.0/33"),
        (one_of("json", "text"), "xml"),
    ],
)
def test_a_value_that_does_not_parse_names_the_variable(parser, raw):
    with pytest.raises(ImproperlyConfigured, match="Environment variable 'GH_TEST_X' invalid"):
        env_read(Env("GH_TEST_X", parser), None, environ={"GH_TEST_X": raw})


def test_parsers_read_the_usual_spellings():
    assert [boolean(raw) for raw in ("1", "yes", "On", "TRUE", "0", "no", "off")] == [
        True,
        True,
        True,
        True,
        False,
        False,
        False,
    ]
    assert comma_list(" a.example, ,b.example ") == ["a.example", "b.example"]
    assert networks("192.0.2.0/24, 2001:db8::/32") == ["192.0.2.0/24", "2001:db8::/32"]
    assert one_of("production", "development")("Development") == "development"


def test_a_prefix_family_gives_one_entry_per_variable():
    env = Env("GH_TEST_SECRET_", prefix=True)
    environ = {"GH_TEST_SECRET_IOS": "a", "GH_TEST_SECRET_WEB": "b", "GH_TEST_SECRET_OFF": ""}
    assert env_read(env, {}, environ=environ) == {"ios": "a", "web": "b"}
    assert env_read(env, {}, environ={"GH_TEST_SECRET": "not in the family"}) == {}
    assert env.label == "GH_TEST_SECRET_<NAME>"


def test_every_declared_setting_is_built_from_the_catalogue():
    built = environment_settings(
        ENVIRONMENT,
        DEFAULTS,
        environ={"GATEHOUSE_TRUSTED_PROXIES": "2", "GATEHOUSE_APPCHECK_APP_IDS": "1:2:ios:a"},
    )
    assert set(built) == set(ENVIRONMENT)
    assert built["TRUSTED_PROXIES"] == 2
    assert built["APPCHECK_APP_IDS"] == ["1:2:ios:a"]
    assert built["TRUSTED_PROXY_NETWORKS"] == DEFAULTS["TRUSTED_PROXY_NETWORKS"]
