"""Runs inside the fresh virtualenv, in the host project made by startproject.

Drives the host through Django's test client the way a client and an admin
would, under DRF's default exception handler, and prints one JSON object:
check name -> {"ok": bool, "detail": str}. tests/system/test_host_project.py turns
each entry into a test. Every answer is also kept: no answer may be a 500 or
an HTML error page (``no_500_and_no_html_error_anywhere``).
"""

import io
import json
import logging
import os
import sys
import traceback
import uuid

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hostproj.settings")
django.setup()

from django.test.utils import setup_test_environment  # noqa: E402

setup_test_environment()  # "testserver" becomes an allowed host

import altcha  # noqa: E402
from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.template.loader import get_template  # noqa: E402
from django.test import Client  # noqa: E402

import protection  # noqa: E402
from protection.keys import api_key_create  # noqa: E402

results = {}
answers = []  # (what, status, content type) of every answer the checks got


class RecordingClient(Client):
    def request(self, **request):
        response = super().request(**request)
        answers.append(
            (
                f"{request.get('REQUEST_METHOD')} {request.get('PATH_INFO')}",
                response.status_code,
                response.get("Content-Type", ""),
            )
        )
        return response


client = RecordingClient(raise_request_exception=False)  # a 500 is an answer to check


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


def is_json_refusal(response, status):
    """The status and a JSON object saying why (DRF's {"detail"}, DRF's field errors
    for a 400, or problem+json), never HTML."""
    content_type = response.get("Content-Type", "")
    body = response.json() if "json" in content_type else {}
    return response.status_code == status and isinstance(body, dict) and bool(body)


def post_json(path, data, **headers):
    return client.post(path, data, content_type="application/json", **headers)


ADDRESSES = (f"198.51.100.{n}" for n in range(1, 255))  # a client per session: no IP limit


def solve(raw_key, address):
    challenge = client.post("/api/v1/challenges", HTTP_X_API_KEY=raw_key, REMOTE_ADDR=address)
    assert challenge.status_code == 201, describe(challenge)
    parsed = altcha.Challenge.from_dict(challenge.json()["altcha"])
    solution = altcha.solve_challenge(parsed, timeout=60)
    return altcha.Payload(parsed, solution).to_base64()


def start_session(raw_key, *, refresh=False):
    """The client's way in: a challenge, its proof of work, a session."""
    address = next(ADDRESSES)
    session = post_json(
        "/api/v1/sessions",
        {"altcha": solve(raw_key, address)},
        HTTP_X_API_KEY=raw_key,
        REMOTE_ADDR=address,
    )
    assert session.status_code == 201, describe(session)
    return (
        (session.json()["access"], session.json()["refresh"])
        if refresh
        else (session.json()["access"])
    )


def bearer(raw_key, access):
    return {"HTTP_X_API_KEY": raw_key, "HTTP_AUTHORIZATION": f"Bearer {access}"}


def hello(raw_key, access=None):
    headers = {"HTTP_X_API_KEY": raw_key}
    if access:
        headers["HTTP_AUTHORIZATION"] = f"Bearer {access}"
    return client.get("/hello/", **headers)


def create(raw_key, access, email, **headers):
    body = {"email": email, "full_name": "Ada Lovelace"}
    return post_json("/api/v1/persons", body, **bearer(raw_key, access), **headers)


_, RAW = api_key_create(name="host app", scopes=["session", "lookup", "create"])
_, NARROW = api_key_create(name="session only", scopes=["session"])
_, CAPTCHA = api_key_create(
    name="captcha app", scopes=["session"], required_verifications=["recaptcha"]
)


@check("installed_from_the_wheel")
def _():
    where = os.path.dirname(protection.__file__)
    return where.startswith(sys.prefix), where


@check("templates_ship_in_the_wheel")
def _():
    origin = get_template("admin/protection/apikey/raw_keys.html").origin.name
    return origin.startswith(sys.prefix), origin


@check("default_exception_handler")
def _():
    handler = settings.REST_FRAMEWORK.get("EXCEPTION_HANDLER")
    return handler is None, handler


@check("bad_key_is_401")
def _():
    response = hello("gh_pub_not-a-key")
    return response.status_code == 401 and "WWW-Authenticate" in response, describe(response)


@check("missing_key_is_401")
def _():
    response = client.get("/hello/")
    return response.status_code == 401 and "WWW-Authenticate" in response, describe(response)


@check("bad_refresh_token_is_401")
def _():
    response = post_json("/api/v1/sessions/refresh", {"refresh": "not-a-token"}, HTTP_X_API_KEY=RAW)
    ok = is_json_refusal(response, 401) and "WWW-Authenticate" in response
    return ok, describe(response)


@check("failed_proof_of_work_is_403")
def _():
    response = post_json("/api/v1/sessions", {"altcha": "bm90LWEtc29sdXRpb24="}, HTTP_X_API_KEY=RAW)
    return is_json_refusal(response, 403), describe(response)


@check("session_is_an_authenticated_user")
def _():
    response = hello(RAW, start_session(RAW))
    ok = response.status_code == 200 and response.json() == {"hello": True, "key": "host app"}
    return ok, describe(response)


@check("scope_denied_is_403")
def _():
    response = hello(NARROW, start_session(NARROW))
    return is_json_refusal(response, 403), describe(response)


@check("unknown_api_path_is_404")
def _():
    response = client.get("/api/v1/nope", HTTP_X_API_KEY=RAW)
    return is_json_refusal(response, 404), describe(response)


@check("person_lookup_and_create")
def _():
    access = start_session(RAW)
    email = f"ada.{uuid.uuid4().hex[:8]}@example.com"
    before = post_json("/api/v1/persons/lookup", {"email": email}, **bearer(RAW, access))
    created = create(RAW, access, email)
    after = post_json("/api/v1/persons/lookup", {"email": email}, **bearer(RAW, access))
    ok = (before.json(), created.status_code, after.json()) == (
        {"exists": False},
        201,
        {"exists": True},
    )
    return ok, f"{describe(before)} | {describe(created)} | {describe(after)}"


@check("invalid_body_is_400")
def _():
    response = post_json("/api/v1/persons/lookup", {"email": 7}, **bearer(RAW, start_session(RAW)))
    return is_json_refusal(response, 400), describe(response)


@check("email_in_the_url_is_400")
def _():
    access = start_session(RAW)
    response = post_json(
        "/api/v1/persons/lookup?email=ada@example.com", {"email": "x"}, **bearer(RAW, access)
    )
    return is_json_refusal(response, 400), describe(response)


@check("taken_address_is_409")
def _():
    email = f"grace.{uuid.uuid4().hex[:8]}@example.com"
    first = create(RAW, start_session(RAW), email)
    again = create(RAW, start_session(RAW), email)
    return first.status_code == 201 and is_json_refusal(again, 409), describe(again)


@check("body_too_large_is_413")
def _():
    body = json.dumps({"altcha": "x" * 20_000})
    response = client.post(
        "/api/v1/sessions", body, content_type="application/json", HTTP_X_API_KEY=RAW
    )
    return is_json_refusal(response, 413), describe(response)


@check("wrong_media_type_is_415")
def _():
    response = client.post(
        "/api/v1/sessions", "altcha=x", content_type="text/plain", HTTP_X_API_KEY=RAW
    )
    return is_json_refusal(response, 415), describe(response)


@check("idempotency_key_reused_with_another_body_is_422")
def _():
    key = {"HTTP_IDEMPOTENCY_KEY": uuid.uuid4().hex}
    first = create(RAW, start_session(RAW), f"a.{uuid.uuid4().hex[:8]}@example.com", **key)
    other = create(RAW, start_session(RAW), f"b.{uuid.uuid4().hex[:8]}@example.com", **key)
    return first.status_code == 201 and is_json_refusal(other, 422), describe(other)


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


@check("lookups_per_session_are_429")
def _():
    access = start_session(RAW)
    for index in range(10):  # SIGNUP_LOOKUPS_PER_SESSION: 5
        email = f"sweep.{index}@example.com"
        response = post_json("/api/v1/persons/lookup", {"email": email}, **bearer(RAW, access))
        if response.status_code != 200:
            break
    return is_json_refusal(response, 429) and "Retry-After" in response, describe(response)


@check("unavailable_verifier_is_503")
def _():
    # The key requires reCAPTCHA, and this host has no reCAPTCHA keys.
    response = post_json("/api/v1/sessions", {"recaptcha_token": "a-token"}, HTTP_X_API_KEY=CAPTCHA)
    return is_json_refusal(response, 503), describe(response)


@check("probes_and_metrics_answer")
def _():
    statuses = {
        path: client.get(path, REMOTE_ADDR="127.0.0.1", HTTP_HOST="192.0.2.21:8000").status_code
        for path in ("/api/v1/health/live", "/api/v1/health/ready", "/metrics")
    }
    metrics = client.get("/metrics", REMOTE_ADDR="127.0.0.1").content.decode()
    ok = set(statuses.values()) == {200} and "gatehouse_http_requests_total{" in metrics
    return ok, f"{statuses} {metrics[:200]!r}"


@check("log_lines_carry_the_request_id")
def _():
    handler = next(h for h in logging.getLogger().handlers if h.get_name() == "console")
    captured = io.StringIO()
    previous = handler.setStream(captured)
    try:
        response = hello("gh_pub_not-a-key")
    finally:
        handler.setStream(previous)
    request_id = response["X-Request-ID"]
    lines = captured.getvalue().splitlines()
    ok = bool(lines) and all(f"[{request_id}]" in line for line in lines)
    access = [line for line in lines if "gatehouse.access" in line]
    return ok and len(access) == 1, lines


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
        follow=True,
    )
    client.logout()
    shown = created.status_code == 200 and b"gatehouse-raw-key" in created.content
    ok = set(statuses.values()) == {200} and shown
    return ok, f"{statuses} add -> {created.status_code}"


@check("the_startup_guard_passes")
def _():
    import hostproj.wsgi  # noqa: F401  (runs protection.startup.startup_guard)

    return True, "started"


@check("no_500_and_no_html_error_anywhere")
def _():
    bad = [
        answer
        for answer in answers
        if answer[1] >= 500 and answer[1] != 503 or (answer[1] >= 400 and "html" in answer[2])
    ]
    return not bad and len(answers) > 30, bad or len(answers)


print(json.dumps(results))
