"""The sign-up page in a real Chromium (Playwright) against a live server.

Needs /usr/bin/chromium (Debian package ``chromium``; ``.ci/run`` installs
it). Outside CI (``CI`` unset) the tests skip, with the reason, when it is
missing; in CI they fail instead. Screenshots go to ``test-artifacts/``.

The last tests cover verification mode (issue 19): the code step, a wrong
code, the mailed link opened in a new tab, the SMS code. The live
server's origin is its PUBLIC_BASE_URL, so the page binds its
sessions to a DPoP key in every test unless one says otherwise.
"""

import json
import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import jwt
import pytest

from protection.blocks import BlockedClient, block_create
from protection.dpop import dpop_thumbprint
from protection.sessions import AnonymousSession, session_revoke
from protection.sessions.tokens import SessionAccessToken, token_decode, token_jkt
from signup.models import Person
from tests.support.browser import (
    browser_fixture,  # noqa: F401
    plain_http_live_server,
    require_chromium,
)
from tests.support.browser import screenshot as save_screenshot
from tests.support.dpop import DpopClient
from tests.support.verification import last_code, link_token

require_chromium()

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


@pytest.fixture
def page_settings(settings: Any, live_server: Any, make_api_key: Callable[..., Any]) -> Any:
    """The page enabled with a key for the live server's origin and a cheap challenge."""
    _, raw_key = make_api_key(allowed_origins=[live_server.url], required_verifications=["pow"])
    settings.GATEHOUSE = {
        **settings.GATEHOUSE,
        "SIGNUP_PAGE_ENABLED": True,
        "SIGNUP_PAGE_API_KEY": raw_key,
        "POW_MAX_NUMBER": 2000,
        "PUBLIC_BASE_URL": live_server.url,
    }
    plain_http_live_server(live_server)
    return settings


@pytest.fixture
def open_page(browser: Any, live_server: Any, page_settings: Any) -> Iterator[Callable[..., Any]]:
    """Open the page in a fresh context; the page object records CSP reports."""
    contexts = []

    def opener(*, init_script: str | None = None, **context_options: Any) -> Any:
        context = browser.new_context(**context_options)
        contexts.append(context)
        if init_script:
            context.add_init_script(init_script)
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
        # Printed with a failing test's output: what the page asked and got.
        page.on("response", lambda r: print("page:", r.request.method, r.url, r.status))
        page.in_flight = set()
        # API calls only (worker scripts are not always reported as finished).
        page.on("request", lambda r: page.in_flight.add(r) if r.resource_type == "fetch" else None)
        page.on("requestfinished", lambda r: page.in_flight.discard(r))
        page.on("requestfailed", lambda r: page.in_flight.discard(r))
        page.goto(live_server.url + "/")
        return page

    yield opener
    for context in contexts:
        for page in context.pages:
            settle_network(page)
        context.close()


def settle_network(page: Any, timeout_ms: int = 5_000) -> None:
    """Wait until the page has had no request in flight for a moment: the work
    it starts after a test's last step (ending a spent session, starting the
    next) must not race the database flush that follows the test."""
    quiet = 0
    for _ in range(timeout_ms // 100):
        quiet = 0 if page.in_flight else quiet + 1
        if quiet >= 3:
            return
        page.wait_for_timeout(100)


# Test instrumentation, injected before the page's own scripts (not subject to
# its CSP): remembers every key pair WebCrypto generates, and how it was asked.
CAPTURE_GENERATED_KEYS = """
window.__generatedKeys = [];
const generateKey = crypto.subtle.generateKey.bind(crypto.subtle);
crypto.subtle.generateKey = async (algorithm, extractable, usages) => {
  const pair = await generateKey(algorithm, extractable, usages);
  window.__generatedKeys.push({ algorithm, extractable, usages, pair });
  return pair;
};
"""

# Run in the page: what the generated key is, and what exporting it gives.
INSPECT_GENERATED_KEY = """async () => {
  const generated = window.__generatedKeys;
  const { algorithm, extractable, pair } = generated[0];
  let exported;
  try {
    await crypto.subtle.exportKey("jwk", pair.privateKey);
    exported = "exported";
  } catch (error) {
    exported = error.name;
  }
  return {
    count: generated.length,
    requested: { algorithm, extractable },
    privateKey: { extractable: pair.privateKey.extractable, usages: pair.privateKey.usages },
    exportPrivate: exported,
    publicJwk: await crypto.subtle.exportKey("jwk", pair.publicKey),
  };
}"""


def responses_to(page: Any, path: str, method: str = "POST") -> list[Any]:
    """Every response the page gets from ``path`` from now on (read them later:
    a body is not read inside Playwright's event handler)."""
    seen: list[Any] = []
    page.on(
        "response",
        lambda r: seen.append(r) if r.url.endswith(path) and r.request.method == method else None,
    )
    return seen


def call_from_outside(
    url: str, *, api_key: str, headers: dict[str, str], body: dict[str, Any]
) -> tuple[int, dict[str, Any]]:
    """A request made outside the browser (as by someone who copied a token)."""
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json", "X-Api-Key": api_key, **headers},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def screenshot(page: Any, name: str) -> None:
    save_screenshot(page, f"signup-page-{name}")


def wait_for_session(page: Any) -> None:
    page.wait_for_selector("#check-status.ok", timeout=30_000)


def fill(page: Any, *, email: str, full_name: str = "Ada Lovelace", phone: str = "") -> None:
    page.fill("#email", email)
    page.fill("#full_name", full_name)
    page.fill("#phone", phone)


def test_widget_solves_and_a_person_signs_up_under_the_csp(open_page):
    page = open_page()
    wait_for_session(page)
    assert page.evaluate("document.body.dataset.altchaState") == "verified"
    fill(page, email="ada@example.com", phone="+12015550123")
    page.click("#submit")
    page.wait_for_selector("#done", state="visible")
    assert "ada@example.com" in page.inner_text("#done-message")
    screenshot(page, "signed-up")
    person = Person.objects.get()
    assert (person.email, person.full_name, person.phone) == (
        "ada@example.com",
        "Ada Lovelace",
        "+12015550123",
    )
    assert page.csp_violations == []


def test_progress_state_while_the_widget_solves(open_page, page_settings):
    # A challenge big enough to still be solving when the screenshot is taken.
    page_settings.GATEHOUSE = {
        **page_settings.GATEHOUSE,
        "POW_MAX_NUMBER": 50_000_000,
        "POW_MAX_NUMBER_CAP": 50_000_000,
    }
    page = open_page()
    page.wait_for_selector("body[data-altcha-state=verifying]")
    fill(page, email="grace@example.com", full_name="Grace Hopper")
    page.click("#submit")
    button = page.locator("#submit")
    assert button.is_disabled()
    assert button.get_attribute("aria-busy") == "true"
    assert "security check" in button.inner_text().lower()
    assert "background" in page.inner_text("#check-status")
    screenshot(page, "mid-solve")
    assert Person.objects.count() == 0


def test_a_registered_email_is_reported_when_leaving_the_field(open_page):
    Person.objects.create(email="taken@example.com", full_name="Already Here")
    page = open_page()
    wait_for_session(page)
    page.fill("#email", "taken@example.com")
    page.press("#email", "Tab")
    error = page.locator("#email-error")
    error.wait_for(state="visible")
    assert "already registered" in error.inner_text()
    assert page.get_attribute("#email", "aria-invalid") == "true"
    screenshot(page, "already-registered")
    page.fill("#email", "free@example.com")
    assert error.inner_text() == ""


def test_a_double_submit_creates_one_person(open_page):
    page = open_page()
    wait_for_session(page)
    fill(page, email="twice@example.com")
    creates = []
    page.on(
        "request",
        lambda request: (
            creates.append(request)
            if request.url.endswith("/api/v1/persons") and request.method == "POST"
            else None
        ),
    )
    page.dblclick("#submit")
    page.evaluate(
        "() => { const f = document.getElementById('signup-form');"
        " f.requestSubmit(); f.requestSubmit(); }"
    )
    page.wait_for_selector("#done", state="visible")
    page.wait_for_timeout(500)
    assert Person.objects.filter(email="twice@example.com").count() == 1
    keys = {request.headers.get("idempotency-key") for request in creates}
    assert len(keys) == 1 and None not in keys


def test_field_errors_are_shown_next_to_their_fields(open_page):
    page = open_page()
    wait_for_session(page)
    fill(page, email="phone@example.com", phone="12")
    page.click("#submit")
    error = page.locator("#phone-error")
    error.wait_for(state="visible")
    assert error.inner_text().strip()
    assert "request body is not valid" not in page.inner_text("body")
    assert page.get_attribute("#phone", "aria-invalid") == "true"
    assert not page.locator("#submit").is_disabled()
    screenshot(page, "field-error")
    # Local checks need no round trip: an empty name is reported at once.
    fill(page, email="phone@example.com", full_name="")
    page.click("#submit")
    assert "full name" in page.inner_text("#full_name-error").lower()


def test_a_spent_session_is_replaced_for_the_next_sign_up(open_page):
    page = open_page()
    wait_for_session(page)
    fill(page, email="first@example.com")
    page.click("#submit")
    page.wait_for_selector("#done", state="visible")
    page.click("#again")
    fill(page, email="second@example.com", full_name="Second Person")
    page.click("#submit")
    page.wait_for_selector("#done", state="visible")
    assert set(Person.objects.values_list("email", flat=True)) == {
        "first@example.com",
        "second@example.com",
    }
    assert page.inner_text("#banner") == ""


def test_the_access_token_is_refreshed_before_it_expires(open_page, page_settings):
    page_settings.GATEHOUSE = {**page_settings.GATEHOUSE, "ACCESS_TOKEN_LIFETIME": 32}
    page = open_page()
    wait_for_session(page)
    # 32 s tokens are refreshed 30 s early: within a few seconds.
    with page.expect_response(
        lambda response: response.url.endswith("/api/v1/sessions/refresh"), timeout=15_000
    ) as refreshed:
        pass
    assert refreshed.value.status == 200
    # A bound refresh token needs a proof by the same key, without ath.
    proof = refreshed.value.request.headers["dpop"]
    assert "ath" not in jwt.decode(proof, options={"verify_signature": False})
    fill(page, email="fresh@example.com")
    page.click("#submit")
    page.wait_for_selector("#done", state="visible")


def test_a_blocked_client_sees_the_blocked_message(open_page):
    block_create(kind=BlockedClient.Kind.IP, value="127.0.0.1", reason="test")
    page = open_page()
    banner = page.locator("#banner")
    banner.wait_for(state="visible")
    assert re.search(r"blocked", banner.inner_text(), re.IGNORECASE)
    screenshot(page, "blocked")
    fill(page, email="blocked@example.com")
    page.click("#submit")
    # Submitting clears the banner and tries again: the answer is the same.
    # (Locators, not wait_for_function: the page's CSP forbids the eval it uses.)
    page.locator("#banner", has_text="blocked").wait_for()
    page.wait_for_selector("#submit:not([disabled])")
    assert Person.objects.count() == 0


def test_a_rate_limited_create_says_so_in_plain_words(open_page, page_settings):
    page_settings.GATEHOUSE = {**page_settings.GATEHOUSE, "SIGNUP_CREATE_IP_RATE": "1/d"}
    page = open_page()
    wait_for_session(page)
    fill(page, email="one@example.com")
    page.click("#submit")
    page.wait_for_selector("#done", state="visible")
    page.click("#again")
    fill(page, email="two@example.com")
    page.click("#submit")
    banner = page.locator("#banner")
    banner.wait_for(state="visible")
    assert "Too many attempts" in banner.inner_text()
    assert re.search(r"\d+ (seconds|minutes|hours)", banner.inner_text())
    assert page.locator("#submit").is_disabled()  # until the wait is over
    assert "Try again in" in page.inner_text("#submit")
    screenshot(page, "rate-limited")


def test_the_rate_limit_countdown_counts_down_then_gives_the_button_back(open_page):
    page = open_page()
    wait_for_session(page)
    # The server's own 429 waits until its window ends (seconds to a day):
    # the first create answered with a 3-second one, the way the API words it.
    refused = []

    def first_create_refused(route: Any) -> None:
        if refused:
            route.continue_()
            return
        refused.append(route.request.url)
        route.fulfill(
            status=429,
            headers={"Retry-After": "3", "Content-Type": "application/problem+json"},
            body=json.dumps({"status": 429, "code": "rate_limited", "title": "Too many requests"}),
        )

    page.route("**/api/v1/persons", first_create_refused)
    fill(page, email="second@example.com")
    page.click("#submit")
    page.locator("#banner", has_text="Too many attempts").wait_for()
    button = page.locator("#submit")
    page.locator("#submit", has_text="Try again in").wait_for()
    labels = []
    for _ in range(100):  # the label as it changes, until the button works again
        if not button.is_disabled():
            break
        label = button.inner_text().strip()
        if not labels or labels[-1] != label:
            labels.append(label)
        page.wait_for_timeout(100)
    assert not button.is_disabled()
    seconds = [int(re.search(r"(\d+) seconds?", label).group(1)) for label in labels]
    assert len(seconds) >= 2 and seconds == sorted(seconds, reverse=True), labels
    assert button.inner_text().strip() == "Create account"
    assert page.inner_text("#banner") == "You can try again now."
    page.click("#submit")  # and it does work again
    page.wait_for_selector("#done", state="visible")
    assert Person.objects.filter(email="second@example.com").exists()


def test_after_sign_up_focus_moves_to_the_result_and_it_is_announced(open_page):
    page = open_page()
    wait_for_session(page)
    fill(page, email="focus@example.com", full_name="Fay Focus")
    page.click("#submit")
    page.wait_for_selector("#done", state="visible")
    assert page.evaluate("document.activeElement.id") == "done-title"
    announced = page.locator("#announce")
    announced.filter(has_text="your account for focus@example.com is ready").wait_for(
        state="attached"
    )
    assert announced.get_attribute("aria-live") == "polite"
    assert announced.inner_text().startswith("Account created.")
    page.click("#again")
    assert page.evaluate("document.activeElement.id") == "email"
    assert page.inner_text("#announce") == ""


def test_after_client_side_errors_the_first_invalid_field_has_focus(open_page):
    page = open_page()
    wait_for_session(page)
    page.click("#submit")  # nothing filled in
    assert page.evaluate("document.activeElement.id") == "email"
    assert page.get_attribute("#email", "aria-invalid") == "true"
    page.fill("#email", "valid@example.com")
    page.click("#submit")  # the name is still missing
    assert page.evaluate("document.activeElement.id") == "full_name"
    assert Person.objects.count() == 0


def test_the_widgets_error_tooltip_leaves_the_status_line_readable(open_page):
    block_create(kind=BlockedClient.Kind.IP, value="127.0.0.1", reason="test")
    page = open_page()
    page.locator("#banner", has_text="blocked").wait_for()
    tooltip = page.locator("altcha-widget .altcha-popover", has_text="failed")
    tooltip.wait_for(state="visible")
    status = page.locator("#check-status")
    assert status.inner_text() == "The security check could not finish."
    tip, line = tooltip.bounding_box(), status.bounding_box()
    overlap = not (
        tip["y"] + tip["height"] <= line["y"]
        or line["y"] + line["height"] <= tip["y"]
        or tip["x"] + tip["width"] <= line["x"]
        or line["x"] + line["width"] <= tip["x"]
    )
    screenshot(page, "widget-error")
    assert not overlap, (tip, line)


def test_the_page_works_on_a_phone_sized_screen(open_page):
    page = open_page(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    wait_for_session(page)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    fill(page, email="phone-user@example.com")
    page.tap("#submit")
    page.wait_for_selector("#done", state="visible")
    screenshot(page, "phone-390x844")
    assert Person.objects.filter(email="phone-user@example.com").exists()


def test_a_revoked_session_is_replaced_when_its_refresh_is_refused(open_page, page_settings):
    page_settings.GATEHOUSE = {**page_settings.GATEHOUSE, "ACCESS_TOKEN_LIFETIME": 32}
    page = open_page()
    wait_for_session(page)
    for session in AnonymousSession.objects.all():
        session_revoke(session=session, reason="test")
    with page.expect_response(
        lambda response: (
            response.url.endswith("/api/v1/sessions") and response.request.method == "POST"
        ),
        timeout=20_000,
    ) as replaced:
        pass
    assert replaced.value.status == 201
    fill(page, email="after-revoke@example.com")
    # The spent session is ended after its create; the next one starts at once.
    with page.expect_response(
        lambda response: (
            response.url.endswith("/api/v1/sessions") and response.request.method == "POST"
        ),
        timeout=20_000,
    ) as following:
        page.click("#submit")
        page.wait_for_selector("#done", state="visible")
    assert following.value.status == 201
    assert page.inner_text("#banner") == ""
    assert AnonymousSession.objects.filter(revoked_at__isnull=True).count() >= 1


def test_a_person_signs_up_through_dpop_with_a_non_extractable_key(open_page):
    page = open_page(init_script=CAPTURE_GENERATED_KEYS)
    sessions = responses_to(page, "/api/v1/sessions")
    requests = []
    page.on(
        "request",
        lambda r: requests.append(r) if "/persons" in r.url and r.method == "POST" else None,
    )
    wait_for_session(page)
    assert page.evaluate("document.body.dataset.dpop") == "on"
    page.fill("#email", "dpop@example.com")
    page.press("#email", "Tab")  # a lookup, through DPoP too
    page.fill("#full_name", "Dee Pop")
    with page.expect_response(
        lambda r: r.url.endswith("/api/v1/sessions/current") and r.request.method == "DELETE"
    ) as ended:
        page.click("#submit")
        page.wait_for_selector("#done", state="visible")
    screenshot(page, "signed-up-dpop")
    assert Person.objects.filter(email="dpop@example.com").exists()

    key = page.evaluate(INSPECT_GENERATED_KEY)
    assert key["count"] == 1  # one key for the page, not one per session
    assert key["requested"] == {
        "algorithm": {"name": "ECDSA", "namedCurve": "P-256"},
        "extractable": False,
    }
    assert key["privateKey"] == {"extractable": False, "usages": ["sign"]}
    assert key["exportPrivate"] == "InvalidAccessError"  # the private key cannot be read out
    jkt = dpop_thumbprint(key["publicJwk"])

    # Every session the page started was bound to that key, server side.
    issued = [response.json() for response in sessions]
    assert issued and all(data["token_type"] == "DPoP" for data in issued)
    bound = {token_jkt(token_decode(SessionAccessToken, data["access"])) for data in issued}
    assert bound == {jkt}  # the access token's cnf.jkt, verified as the server does
    first = issued[0]["access"]
    # Lookup and create sent the token as DPoP, each with its own fresh proof.
    paths = [r.url.rsplit("/api/v1/", 1)[1] for r in requests]
    assert paths == ["persons/lookup", "persons"]
    assert all(r.headers["authorization"] == "DPoP " + first for r in requests)
    proofs = [r.headers["dpop"] for r in requests]
    assert len(set(proofs)) == 2
    # The spent session was ended (DELETE /sessions/current, with a proof).
    assert ended.value.status == 204
    assert ended.value.request.headers["dpop"] not in proofs
    assert page.csp_violations == []


def test_a_stolen_access_token_is_refused_outside_the_page(open_page, live_server, page_settings):
    page = open_page()
    sessions = responses_to(page, "/api/v1/sessions")
    wait_for_session(page)
    stolen = sessions[0].json()["access"]
    api_key = page_settings.GATEHOUSE["SIGNUP_PAGE_API_KEY"]
    url = live_server.url + "/api/v1/persons/lookup"
    body = {"email": "victim@example.com"}
    # Replayed as a plain Bearer token: refused, the token is bound to a key.
    status, problem = call_from_outside(
        url, api_key=api_key, headers={"Authorization": "Bearer " + stolen}, body=body
    )
    assert (status, problem["code"]) == (401, "dpop_required")
    # With a proof signed by the thief's own key: refused too.
    thief = DpopClient()
    proof = thief.proof(url=url, access_token=stolen)
    status, problem = call_from_outside(
        url, api_key=api_key, headers={"Authorization": "DPoP " + stolen, "DPoP": proof}, body=body
    )
    assert (status, problem["code"]) == (401, "dpop_binding_mismatch")
    # The page, which holds the key, carries on with the same session.
    fill(page, email="owner@example.com")
    with page.expect_request(lambda r: r.url.endswith("/api/v1/persons")) as created:
        page.click("#submit")
    page.wait_for_selector("#done", state="visible")
    assert created.value.headers["authorization"] == "DPoP " + stolen
    assert Person.objects.filter(email="owner@example.com").exists()


def test_without_a_public_base_url_the_page_uses_bearer_tokens(open_page, page_settings):
    page_settings.GATEHOUSE = {**page_settings.GATEHOUSE, "PUBLIC_BASE_URL": ""}
    page = open_page(init_script=CAPTURE_GENERATED_KEYS)
    sessions = responses_to(page, "/api/v1/sessions")
    wait_for_session(page)
    assert page.evaluate("document.body.dataset.dpop") == "off"
    assert page.evaluate("window.__generatedKeys.length") == 0
    fill(page, email="bearer@example.com")
    with page.expect_request(lambda r: r.url.endswith("/api/v1/persons")) as created:
        page.click("#submit")
    page.wait_for_selector("#done", state="visible")
    assert created.value.headers["authorization"].startswith("Bearer ")
    assert "dpop" not in created.value.headers
    assert sessions[0].json()["token_type"] == "Bearer"
    assert "dpop" not in sessions[0].request.headers


def test_a_page_on_another_origin_than_the_public_base_url_uses_bearer(open_page, page_settings):
    """Proofs signed for this origin would fail the htu check: not sent at all."""
    page_settings.GATEHOUSE = {
        **page_settings.GATEHOUSE,
        "PUBLIC_BASE_URL": "https://elsewhere.example",
    }
    page = open_page()
    wait_for_session(page)
    assert page.evaluate("document.body.dataset.dpop") == "off"
    fill(page, email="elsewhere@example.com")
    page.click("#submit")
    page.wait_for_selector("#done", state="visible")


def test_the_page_signs_again_with_the_server_nonce_when_one_is_required(open_page, page_settings):
    page_settings.GATEHOUSE = {**page_settings.GATEHOUSE, "DPOP_NONCE_REQUIRED": True}
    page = open_page()
    sessions = responses_to(page, "/api/v1/sessions")
    wait_for_session(page)
    # The first proof had no nonce: 401 use_dpop_nonce with DPoP-Nonce, then signed again.
    assert [r.status for r in sessions] == [401, 201]
    assert "use_dpop_nonce" in sessions[0].headers["www-authenticate"]
    assert sessions[1].json()["token_type"] == "DPoP"
    fill(page, email="nonce@example.com")
    page.click("#submit")
    page.wait_for_selector("#done", state="visible")
    assert Person.objects.filter(email="nonce@example.com").exists()


def test_proofs_follow_the_server_clock_when_the_device_clock_is_off(open_page):
    """iat comes from the server's Date header: 90 s fast is outside the 60 s window."""
    page = open_page(init_script="Date.now = ((now) => () => now() + 90_000)(Date.now);")
    sessions = responses_to(page, "/api/v1/sessions")
    wait_for_session(page)
    assert [r.status for r in sessions] == [201]
    iat = jwt.decode(sessions[0].request.headers["dpop"], options={"verify_signature": False})[
        "iat"
    ]
    assert abs(iat - time.time()) < 10
    fill(page, email="skewed@example.com")
    page.click("#submit")
    page.wait_for_selector("#done", state="visible")


# --- Verification mode (issue 19): the code step, the mailed link ----------------


@pytest.fixture
def verify_email(page_settings: Any) -> Any:
    page_settings.GATEHOUSE = {**page_settings.GATEHOUSE, "SIGNUP_VERIFY": "email"}
    return page_settings


def _wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


def test_the_code_step_confirms_the_typed_code(open_page, verify_email):
    page = open_page()
    wait_for_session(page)
    fill(page, email="ada@example.com")
    page.click("#submit")
    page.wait_for_selector("#verify", state="visible")
    assert "ada@example.com" in page.inner_text("#verify-message")
    assert Person.objects.count() == 0
    code = last_code("ada@example.com")
    page.fill("#code", _wrong(code))
    page.click("#verify-submit")
    page.wait_for_selector("#code-error:has-text('isn\\'t right')")
    screenshot(page, "wrong-code")
    page.fill("#code", code)
    page.click("#verify-submit")
    page.wait_for_selector("#done", state="visible")
    assert "ada@example.com" in page.inner_text("#done-message")
    screenshot(page, "verified")
    assert Person.objects.get().email == "ada@example.com"
    # The resend waits for the server's cooldown before it is offered.
    assert page.csp_violations == []


def test_the_resend_is_offered_after_the_cooldown(open_page, verify_email):
    page = open_page()
    wait_for_session(page)
    fill(page, email="ada@example.com")
    page.click("#submit")
    page.wait_for_selector("#verify", state="visible")
    assert page.is_disabled("#resend")
    assert "s)" in page.inner_text("#resend-wait")


def test_the_mailed_link_confirms_in_a_new_tab(open_page, verify_email, live_server):
    page = open_page()
    wait_for_session(page)
    fill(page, email="grace@example.com", full_name="Grace Hopper")
    page.click("#submit")
    page.wait_for_selector("#verify", state="visible")
    token = link_token("grace@example.com")
    link = page.context.browser.new_context().new_page()
    link.goto(f"{live_server.url}/confirm#t={token}")
    link.wait_for_selector("#done", state="visible", timeout=30_000)
    assert "grace@example.com" in link.inner_text("#done-message")
    assert "#t=" not in link.url  # the token left the address bar at once
    assert Person.objects.get().full_name == "Grace Hopper"
    # Used: opening it again says so.
    again = link.context.new_page()
    again.goto(f"{live_server.url}/confirm#t={token}")
    again.wait_for_selector("#banner:has-text('expired or was already used')", timeout=30_000)
    link.context.close()


def test_phone_mode_sends_the_code_by_sms(open_page, page_settings):
    page_settings.GATEHOUSE = {**page_settings.GATEHOUSE, "SIGNUP_VERIFY": "phone"}
    page = open_page()
    wait_for_session(page)
    fill(page, email="ada@example.com", phone="(201) 555-0123")
    page.click("#submit")
    page.wait_for_selector("#verify", state="visible")
    assert page.inner_text("#verify-title") == "Check your phone"
    page.fill("#code", last_code("+12015550123"))
    page.click("#verify-submit")
    page.wait_for_selector("#done", state="visible")
    assert Person.objects.get().phone == "+12015550123"
