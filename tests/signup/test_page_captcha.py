"""The sign-up page offers the CAPTCHAs the server can verify, and its CSP allows only those."""

import pytest

pytestmark = pytest.mark.django_db


@pytest.fixture
def page_enabled(settings):
    settings.GATEHOUSE = {**settings.GATEHOUSE, "SIGNUP_PAGE_ENABLED": True}
    return settings


def directives(response):
    csp = response["Content-Security-Policy"]
    return {part.strip().split(" ", 1)[0]: part.strip().split(" ")[1:] for part in csp.split(";")}


def test_without_captcha_keys_the_csp_is_the_strict_base(client, page_enabled):
    response = client.get("/")
    policy = directives(response)
    assert policy["script-src"] == ["'self'"]
    assert "frame-src" not in policy
    assert "gatehouse-captcha-script" not in response.content.decode()


def test_a_configured_turnstile_adds_exactly_its_sources(client, page_enabled):
    page_enabled.GATEHOUSE = {**page_enabled.GATEHOUSE, "TURNSTILE_SITE_KEY": "site-key"}
    response = client.get("/")
    policy = directives(response)
    assert policy["script-src"] == ["'self'", "https://challenges.cloudflare.com"]
    assert policy["frame-src"] == ["https://challenges.cloudflare.com"]
    assert policy["connect-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'"]
    page = response.content.decode()
    assert (
        '<meta name="gatehouse-captcha-script" data-provider="turnstile" '
        'content="https://challenges.cloudflare.com/turnstile/v0/api.js?render=explicit">'
    ) in page
    assert 'data-provider="hcaptcha"' not in page


def test_hcaptcha_sources_and_configurable_script(client, page_enabled):
    page_enabled.GATEHOUSE = {
        **page_enabled.GATEHOUSE,
        "HCAPTCHA_SITE_KEY": "site-key",
        "SIGNUP_PAGE_HCAPTCHA_SCRIPT": "https://captcha.example/api.js",
        "SIGNUP_PAGE_CAPTCHA_CSP": {"hcaptcha": {"script-src": ["https://captcha.example"]}},
    }
    response = client.get("/")
    policy = directives(response)
    assert policy["script-src"] == ["'self'", "https://captcha.example"]
    assert "frame-src" not in policy
    assert 'content="https://captcha.example/api.js"' in response.content.decode()
