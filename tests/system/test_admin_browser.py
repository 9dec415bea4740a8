"""The admin in a real Chromium: lists fit 1280 px, the dashboard reads in dark
mode, reCAPTCHA fields follow the checkbox, the shown key copies. Screenshots
go to test-artifacts/admin-*.png."""

import datetime
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from protection.blocks import BlockedClient, block_create
from protection.core.events import SecurityEvent
from protection.keys import ApiKey
from protection.sessions import session_revoke
from signup.models import Person
from tests.support.browser import (
    browser_fixture,  # noqa: F401
    plain_http_live_server,
    require_chromium,
    screenshot,
)

require_chromium()

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

PASSWORD = "pw-browser-123456!"


@pytest.fixture
def admin_data(make_api_key: Callable[..., Any], make_session: Callable[..., Any]) -> ApiKey:
    """Rows with the longest values the lists show: IPv6, UUIDs, long names and paths."""
    get_user_model().objects.create_superuser("admin", "admin@example.com", PASSWORD)
    key, _ = make_api_key(
        name="A rather long application name for the mobile sign-up flow",
        allowed_origins=["https://signup.example.com"],
    )
    for ip in ("2001:db8:85a3:1234:5678:8a2e:370:7334", "198.51.100.77"):
        issued = make_session(key, client_ip=ip)
    session_revoke(session=issued.session, reason="a-rather-long-revocation-reason-code")
    now = timezone.now()
    for hours_ago, kind in [(0, "rate_limited"), (1, "challenge_failed"), (2, "session_issued")]:
        for n in range(3 + hours_ago * 4):
            SecurityEvent.objects.create(
                kind=kind,
                decision="deny" if kind != "session_issued" else "allow",
                reason=kind,
                client_ip="2001:db8:85a3:1234:5678:8a2e:370:7334",
                api_key=key,
                path="/api/v1/persons/lookup/with/a/rather/long/path",
                created_at=now - datetime.timedelta(hours=hours_ago, minutes=n),
            )
    block_create(
        kind=BlockedClient.Kind.SESSION,
        value=str(issued.session.pk),
        reason="blocked from the admin after a long investigation of a sweep",
        duration=datetime.timedelta(hours=2),
    )
    Person.objects.create(email="ada.lovelace@analytical-engine.example", full_name="Ada Lovelace")
    return key


@pytest.fixture
def admin_page(
    browser: Any, live_server: Any, settings: Any, admin_data: ApiKey
) -> Iterator[Callable[..., Any]]:
    plain_http_live_server(live_server)
    contexts = []

    def opener(**context_options: Any) -> Any:
        context = browser.new_context(viewport={"width": 1280, "height": 800}, **context_options)
        contexts.append(context)
        page = context.new_page()
        page.goto(live_server.url + "/admin/login/")
        page.fill("#id_username", "admin")
        page.fill("#id_password", PASSWORD)
        page.click("input[type=submit]")
        page.wait_for_url(live_server.url + "/admin/")
        return page

    yield opener
    for context in contexts:
        context.close()


@pytest.mark.parametrize(
    "changelist",
    [
        "protection/apikey",
        "protection/anonymoussession",
        "protection/securityevent",
        "protection/blockedclient",
        "signup/person",
    ],
)
def test_lists_fit_a_1280px_screen(admin_page, live_server, changelist):
    page = admin_page()
    page.goto(f"{live_server.url}/admin/{changelist}/")
    assert page.locator("#result_list tbody tr").count() >= 1
    screenshot(page, "admin-list-" + changelist.replace("/", "-"))
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
    # The admin scrolls a wide table inside its box: it must not need to.
    table, box = page.evaluate(
        "[document.querySelector('#result_list').scrollWidth,"
        " document.querySelector('.results').clientWidth]"
    )
    assert table <= box


def test_dashboard_is_readable_in_dark_mode(admin_page, live_server):
    page = admin_page(color_scheme="dark")
    page.goto(live_server.url + "/admin/protection/securityevent/dashboard/")
    fill = page.eval_on_selector("#events-chart text.y-tick", "el => getComputedStyle(el).fill")
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert fill != background and fill not in ("rgb(0, 0, 0)", "none")
    bullets = page.eval_on_selector("ul.legend li", "el => getComputedStyle(el).listStyleType")
    assert bullets == "none"
    assert (
        page.locator("#top-keys a")
        .first.get_attribute("href")
        .startswith("/admin/protection/apikey/")
    )
    screenshot(page, "admin-dashboard-dark")
    light = admin_page()
    light.goto(live_server.url + "/admin/protection/securityevent/dashboard/")
    screenshot(light, "admin-dashboard-light")


def test_recaptcha_fields_follow_the_checkbox_and_the_shown_key_copies(admin_page, live_server):
    page = admin_page(permissions=["clipboard-read", "clipboard-write"])
    page.goto(live_server.url + "/admin/protection/apikey/add/")
    recaptcha_row = page.locator(".field-recaptcha_version")
    assert recaptcha_row.is_hidden()
    page.check('input[name="required_verifications"][value="recaptcha"]')
    assert recaptcha_row.is_visible()
    screenshot(page, "admin-key-add-recaptcha")
    page.uncheck('input[name="required_verifications"][value="recaptcha"]')
    assert recaptcha_row.is_hidden()
    page.fill("#id_name", "Copied key")
    page.click('input[name="_addanother"]')
    raw_key = page.input_value("#raw-key-1")
    page.click("button.gatehouse-copy")
    page.wait_for_selector("button.gatehouse-copy:has-text('Copied')")
    assert page.evaluate("navigator.clipboard.readText()") == raw_key
    screenshot(page, "admin-key-shown-once")
    page.click("#next-step")
    assert page.url.endswith("/admin/protection/apikey/add/")
