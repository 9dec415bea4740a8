import pytest

from protection.conf import DEFAULTS, gatehouse_settings


def test_defaults_apply_when_not_set(settings):
    settings.GATEHOUSE = {}
    assert gatehouse_settings.MAX_BODY_BYTES == DEFAULTS["MAX_BODY_BYTES"] == 16 * 1024


def test_overrides_are_read_on_every_access(settings):
    settings.GATEHOUSE = {**settings.GATEHOUSE, "TRUSTED_PROXIES": 3}
    assert gatehouse_settings.TRUSTED_PROXIES == 3
    settings.GATEHOUSE = {**settings.GATEHOUSE, "TRUSTED_PROXIES": 0}
    assert gatehouse_settings.TRUSTED_PROXIES == 0


def test_unknown_setting_is_an_error():
    with pytest.raises(AttributeError):
        gatehouse_settings.NO_SUCH_SETTING  # noqa: B018
