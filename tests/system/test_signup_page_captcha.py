"""The sign-up page renders the CAPTCHA a challenge asks for, in a real Chromium.

The widget scripts are stand-ins served by the fake Turnstile / hCaptcha
(tests/support/captcha.py) from another origin than the page, which also
answers siteverify: the page loads the script the server names, renders the
widget explicitly, sends its token as ``<provider>_token`` and stays within
its Content-Security-Policy, which names that one extra script origin.
"""

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from signup.models import Person
from tests.support.browser import (
    browser_fixture,  # noqa: F401
    plain_http_live_server,
    require_chromium,
)
from tests.support.browser import screenshot as save_screenshot
from tests.support.captcha import (
    HCAPTCHA_SITE_KEY,
    TURNSTILE_SITE_KEY,
    FakeCaptchaServer,
    captcha_settings,
    fake_captcha_start,
    fake_captcha_stop,
)

require_chromium()

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

SITE_KEYS = {"turnstile": TURNSTILE_SITE_KEY, "hcaptcha": HCAPTCHA_SITE_KEY}


@pytest.fixture
def fake_captcha() -> Iterator[FakeCaptchaServer]:
    server = fake_captcha_start()
    yield server
    fake_captcha_stop(server)


@pytest.fixture
def captcha_page(
    settings: Any, live_server: Any, make_api_key: Callable[..., Any], fake_captcha: Any
) -> Callable[..., Any]:
    """Configure the page for a key that requires ``provider``; return the key."""

    def configure(provider: str, *, allow_script: bool = True) -> Any:
        key, raw_key = make_api_key(
            allowed_origins=[live_server.url], required_verifications=["pow", provider]
        )
        fake_captcha.widget_answer[provider] = {
            "success": True,
            "hostname": "localhost",  # the live server's host, as the widget reports it
            **({"action": "signup"} if provider == "turnstile" else {}),
        }
        sources = {"script-src": [fake_captcha.base_url]} if allow_script else {}
        settings.GATEHOUSE = {
            **settings.GATEHOUSE,
            **captcha_settings(fake_captcha),
            "SIGNUP_PAGE_ENABLED": True,
            "SIGNUP_PAGE_API_KEY": raw_key,
            "POW_MAX_NUMBER": 2000,
            f"SIGNUP_PAGE_{provider.upper()}_SCRIPT": fake_captcha.script_url(provider),
            "SIGNUP_PAGE_CAPTCHA_CSP": {provider: sources},
        }
        plain_http_live_server(live_server)
        return key

    return configure


def open_page(browser: Any, url: str) -> tuple[Any, Any]:
    context = browser.new_context()
    page = context.new_page()
    page.csp_violations = []
    page.on(
        "console",
        lambda message: (
            page.csp_violations.append(message.text)
            if "Content Security Policy" in message.text
            else None
        ),
    )
    page.goto(url + "/")
    return context, page


@pytest.mark.parametrize("provider", ["turnstile", "hcaptcha"])
def test_the_page_renders_the_captcha_asked_for_and_signs_up(
    browser, live_server, captcha_page, fake_captcha, provider
):
    captcha_page(provider)
    context, page = open_page(browser, live_server.url)
    try:
        with page.expect_request(
            lambda r: r.url.endswith("/api/v1/sessions") and r.method == "POST"
        ) as started:
            page.wait_for_selector("#check-status.ok", timeout=30_000)
        widget = page.locator(f".fake-captcha[data-provider={provider}]")
        assert widget.get_attribute("data-sitekey") == SITE_KEYS[provider]
        if provider == "turnstile":
            assert widget.get_attribute("data-action") == "signup"
        body = json.loads(started.value.post_data)
        assert body[f"{provider}_token"].startswith(f"{provider}-widget-")
        assert body["altcha"]
        [verified] = fake_captcha.requests[provider]
        assert verified["response"] == body[f"{provider}_token"]
        save_screenshot(page, f"signup-page-{provider}")
        page.fill("#email", f"{provider}@example.com")
        page.fill("#full_name", "Cap Tcha")
        page.click("#submit")
        page.wait_for_selector("#done", state="visible")
        assert Person.objects.filter(email=f"{provider}@example.com").exists()
        # The next session (started after the create) used a fresh token.
        page.wait_for_timeout(500)
        tokens = [request["response"] for request in fake_captcha.requests[provider]]
        assert len(tokens) == len(set(tokens))
        assert page.csp_violations == []
    finally:
        context.close()


def test_a_widget_from_an_origin_the_csp_does_not_name_is_blocked(
    browser, live_server, captcha_page, fake_captcha
):
    captcha_page("turnstile", allow_script=False)
    context, page = open_page(browser, live_server.url)
    try:
        banner = page.locator("#banner")
        banner.wait_for(state="visible", timeout=30_000)
        assert "could not load" in banner.inner_text()
        assert any(fake_captcha.base_url in v for v in page.csp_violations)
        assert fake_captcha.widget_script_requests == []  # the browser never fetched it
        assert fake_captcha.requests["turnstile"] == []
    finally:
        context.close()
