"""Runs inside the fresh virtualenv, in the host project made by startproject.

Drives the host through Django's test client the way a client and an admin
would, and prints one JSON object: check name -> {"ok": bool, "detail": str}.
tests/system/test_host_project.py turns each entry into a test.
"""

import json
import os
import sys
import traceback

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hostproj.settings")
django.setup()

from django.test.utils import setup_test_environment  # noqa: E402

setup_test_environment()  # "testserver" becomes an allowed host

import altcha  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.template.loader import get_template  # noqa: E402
from django.test import Client  # noqa: E402

import protection  # noqa: E402
from protection.keys import api_key_create  # noqa: E402

results = {}
client = Client(raise_request_exception=False)  # a 500 is an answer to check, not a crash


def check(name):
    def wrapper(func):
        try:
            ok, detail = func()
        except Exception:
            ok, detail = False, traceback.format_exc(limit=3)
        results[name] = {"ok": bool(ok), "detail": str(detail)[-1500:]}
        return func

    return wrapper


def describe(response):
    return f"{response.status_code} {dict(response.headers)} {response.content[:300]!r}"


def start_session(raw_key):
    """The client's way in: a challenge, its proof of work, a session."""
    challenge = client.post("/api/v1/challenges", HTTP_X_API_KEY=raw_key)
    assert challenge.status_code == 201, describe(challenge)
    parsed = altcha.Challenge.from_dict(challenge.json()["altcha"])
    solution = altcha.solve_challenge(parsed, timeout=60)
    payload = altcha.Payload(parsed, solution).to_base64()
    session = client.post(
        "/api/v1/sessions",
        {"altcha": payload},
        content_type="application/json",
        HTTP_X_API_KEY=raw_key,
    )
    assert session.status_code == 201, describe(session)
    return session.json()["access"]


def hello(raw_key, access=None):
    headers = {"HTTP_X_API_KEY": raw_key}
    if access:
        headers["HTTP_AUTHORIZATION"] = f"Bearer {access}"
    return client.get("/hello/", **headers)


_, RAW = api_key_create(name="host app", scopes=["session", "lookup"])
_, NARROW = api_key_create(name="session only", scopes=["session"])


@check("installed_from_the_wheel")
def _():
    where = os.path.dirname(protection.__file__)
    return where.startswith(sys.prefix), where


@check("templates_ship_in_the_wheel")
def _():
    origin = get_template("admin/protection/apikey/raw_keys.html").origin.name
    return origin.startswith(sys.prefix), origin


@check("bad_key_is_401")
def _():
    response = hello("gh_pub_not-a-key")
    return response.status_code == 401 and "WWW-Authenticate" in response, describe(response)


@check("missing_key_is_401")
def _():
    response = client.get("/hello/")
    return response.status_code == 401 and "WWW-Authenticate" in response, describe(response)


@check("session_is_an_authenticated_user")
def _():
    response = hello(RAW, start_session(RAW))
    ok = response.status_code == 200 and response.json() == {"hello": True, "key": "host app"}
    return ok, describe(response)


@check("scope_denied_is_403")
def _():
    response = hello(NARROW, start_session(NARROW))
    return response.status_code == 403, describe(response)


@check("limits_are_429_with_headers")
def _():
    access = start_session(RAW)
    for _attempt in range(10):  # the key may call /hello/ three times a minute
        response = hello(RAW, access)
        if response.status_code != 200:
            break
    wanted = ("Retry-After", "RateLimit", "RateLimit-Policy")
    ok = response.status_code == 429 and all(name in response for name in wanted)
    return ok, describe(response)


@check("admin_pages_render")
def _():
    admin = get_user_model().objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(admin)
    pages = ["/admin/", "/admin/protection/apikey/", "/admin/protection/apikey/add/"]
    statuses = {page: client.get(page).status_code for page in pages}
    created = client.post(
        "/admin/protection/apikey/add/",
        {
            "name": "from the admin",
            "kind": "publishable",
            "scopes": ["session", "lookup"],
            "allowed_origins": "",
            "required_verifications": ["pow"],
            "recaptcha_version": "v3",
            "recaptcha_action": "session",
            "recaptcha_min_score": "0.5",
            "rate_limit_overrides": "{}",
            "expires_at_0": "",
            "expires_at_1": "",
        },
    )
    client.logout()
    shown = created.status_code == 200 and b"gatehouse-raw-key" in created.content
    ok = set(statuses.values()) == {200} and shown
    return ok, f"{statuses} add -> {created.status_code}"


print(json.dumps(results))
