"""The sign-up page at / as served: enabled by a setting, strict CSP, vendored widget."""

import re
from pathlib import Path

import pytest
from django.contrib.staticfiles import finders

from signup.page import ALTCHA_VERSION

pytestmark = pytest.mark.django_db

VENDOR = f"signup/vendor/altcha-{ALTCHA_VERSION}/"


@pytest.fixture
def page_enabled(settings):
    settings.GATEHOUSE = {**settings.GATEHOUSE, "SIGNUP_PAGE_ENABLED": True}
    return settings


def test_page_is_off_unless_enabled(client, settings):
    settings.GATEHOUSE = {**settings.GATEHOUSE, "SIGNUP_PAGE_ENABLED": False}
    assert client.get("/").status_code == 404


def test_the_confirm_link_lands_on_the_same_page_under_the_same_rules(client, settings):
    settings.GATEHOUSE = {**settings.GATEHOUSE, "SIGNUP_PAGE_ENABLED": False}
    assert client.get("/confirm").status_code == 404
    settings.GATEHOUSE = {**settings.GATEHOUSE, "SIGNUP_PAGE_ENABLED": True}
    page, confirm = client.get("/"), client.get("/confirm")
    assert confirm.status_code == 200 and confirm.content == page.content
    assert confirm["Content-Security-Policy"] == page["Content-Security-Policy"]
    assert confirm["Referrer-Policy"] == "no-referrer"  # the token is in its fragment


def test_page_is_on_in_debug_by_default():
    # config/settings.py: GATEHOUSE_SIGNUP_PAGE defaults to DEBUG.
    from config import settings as config_settings

    assert config_settings.GATEHOUSE["SIGNUP_PAGE_ENABLED"] is config_settings.DEBUG


@pytest.mark.parametrize(
    ("base", "written"),
    [("https://Signup.example.com:443", "https://signup.example.com"), ("", "")],
)
def test_page_is_told_the_origin_dpop_proofs_are_checked_for(client, page_enabled, base, written):
    """Empty when the server cannot check proofs: the page then uses Bearer tokens."""
    page_enabled.GATEHOUSE = {**page_enabled.GATEHOUSE, "PUBLIC_BASE_URL": base}
    page = client.get("/").content.decode()
    assert f'<meta name="gatehouse-dpop-origin" content="{written}">' in page


def test_page_has_a_strict_csp_and_no_inline_code(client, page_enabled):
    response = client.get("/")
    assert response.status_code == 200
    csp = response["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in csp.split(";"))
    assert directives["default-src"] == "'none'"
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["worker-src"] == "'self'"
    assert "unsafe" not in csp and "blob:" not in csp
    page = response.content.decode()
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page), "inline script"
    assert "<style" not in page and " style=" not in page
    assert not re.search(r"<[^>]+\son[a-z]+\s*=", page), "inline event handler"
    # No CDN: every script and stylesheet comes from this server.
    assert not re.findall(r'(?:src|rel="stylesheet" href)="(?:https?:)?//', page)
    assert f"/static/{VENDOR}altcha.min.js" in page


def test_page_writes_the_configured_publishable_key(client, page_enabled):
    page_enabled.GATEHOUSE = {**page_enabled.GATEHOUSE, "SIGNUP_PAGE_API_KEY": "gh_pub_example"}
    page = client.get("/").content.decode()
    assert '<meta name="gatehouse-api-key" content="gh_pub_example">' in page


def test_page_only_answers_get(client, page_enabled):
    assert client.post("/").status_code == 405


def test_widget_is_vendored_with_its_licence_and_served_locally(client):
    for name in ("altcha.min.js", "altcha.css", "workers/sha.js", "workers/pbkdf2.js"):
        assert finders.find(VENDOR + name), name
    licence = Path(finders.find(VENDOR + "LICENSE.txt")).read_text()
    assert "MIT License" in licence
    response = client.get(f"/static/{VENDOR}altcha.min.js")
    assert response.status_code == 200
    assert "altcha-widget" in b"".join(response.streaming_content).decode()


def test_page_script_calls_the_public_api_with_an_idempotency_key():
    script = Path(finders.find("signup/page.js")).read_text()
    for endpoint in ("/api/v1/challenges", "/api/v1/sessions", "/api/v1/persons/lookup"):
        assert f'"{endpoint}"' in script
    assert '"/api/v1/persons"' in script
    assert '"Idempotency-Key"' in script
