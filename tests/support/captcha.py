"""Fake Cloudflare Turnstile and hCaptcha on 127.0.0.1, speaking their real protocols.

One plain-HTTP server plays both providers (gatehouse allows http siteverify
URLs to loopback only):

- ``POST /turnstile/v0/siteverify`` and ``POST /hcaptcha/siteverify``: a
  form-encoded ``secret``, ``response``, ``remoteip`` (Turnstile:
  ``idempotency_key``; hCaptcha: ``sitekey``), answered with the JSON the
  test set for that token (``answer``). Like the real services, a token is
  good once: a second verification is ``success: false`` with
  ``timeout-or-duplicate`` (Turnstile) or ``invalid-or-already-seen-response``
  (hCaptcha), except that Turnstile repeats its first answer to a request
  with the same ``idempotency_key`` (a retry). A wrong secret is
  ``invalid-input-secret``; an unknown token ``invalid-input-response``.
- ``GET /turnstile/v0/api.js`` and ``GET /hcaptcha/1/api.js``: stand-ins for
  the widget scripts, for the browser tests: ``turnstile.render`` /
  ``hcaptcha.render`` draw a box and hand the callback a fresh
  ``<provider>-widget-<uuid>`` token, which siteverify answers with
  ``widget_answer[provider]`` (once, like any token).

``hang`` holds requests open (a provider that never answers), ``release``
ends the hold and a test's drips.
"""

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import pytest

TURNSTILE_SECRET = "fake-turnstile-secret"
TURNSTILE_SITE_KEY = "fake-turnstile-site-key"
HCAPTCHA_SECRET = "fake-hcaptcha-secret"
HCAPTCHA_SITE_KEY = "fake-hcaptcha-site-key"
SECRETS = {"turnstile": TURNSTILE_SECRET, "hcaptcha": HCAPTCHA_SECRET}
DUPLICATE = {"turnstile": "timeout-or-duplicate", "hcaptcha": "invalid-or-already-seen-response"}
PATHS = {"/turnstile/v0/siteverify": "turnstile", "/hcaptcha/siteverify": "hcaptcha"}

# The widget scripts: the real ones' explicit-render API, reduced to what
# the sign-up page uses (render with sitekey/action/callback, reset, remove).
WIDGET_SCRIPT = """
(() => {
  const provider = %(provider)s;
  let widgets = 0;
  const api = {
    render(container, options) {
      const element = typeof container === "string" ? document.querySelector(container) : container;
      const id = String(++widgets);
      const box = document.createElement("div");
      box.className = "fake-captcha";
      box.dataset.provider = provider;
      box.dataset.sitekey = options.sitekey || "";
      box.dataset.action = options.action || "";
      box.textContent = provider + " (test widget)";
      element.appendChild(box);
      api._widgets[id] = { box, options };
      api._solve(id);
      return id;
    },
    reset(id) { api._solve(id || "1"); },
    remove(id) { const w = api._widgets[id || "1"]; if (w) w.box.remove(); },
    getResponse(id) { const w = api._widgets[id || "1"]; return w ? w.token : ""; },
    _widgets: {},
    _solve(id) {
      const widget = api._widgets[id];
      widget.token = provider + "-widget-" + crypto.randomUUID();
      widget.box.dataset.token = widget.token;
      setTimeout(() => widget.options.callback(widget.token));
    },
  };
  window[provider] = api;
})();
"""


class FakeCaptchaServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.answers: dict[tuple[str, str], dict[str, Any]] = {}
        self.requests: dict[str, list[dict[str, str]]] = {"turnstile": [], "hcaptcha": []}
        self.seen: dict[tuple[str, str], str] = {}  # (provider, token) -> first idempotency key
        self.first_answers: dict[tuple[str, str], bytes] = {}
        self.widget_answer: dict[str, dict[str, Any]] = {}
        self.widget_script_requests: list[str] = []
        self.hang = threading.Event()
        self.release = threading.Event()
        self.lock = threading.Lock()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def answer(self, provider: str, token: str, **fields: Any) -> None:
        """What siteverify answers for ``token`` (``success``, ``hostname``, ``action``...)."""
        self.answers[(provider, token)] = fields

    def verify_url(self, provider: str) -> str:
        path = next(path for path, name in PATHS.items() if name == provider)
        return self.base_url + path

    def script_url(self, provider: str) -> str:
        return self.base_url + ("/turnstile/v0/api.js" if provider == "turnstile" else
                                "/hcaptcha/1/api.js")  # fmt: skip


class FakeCaptchaHandler(BaseHTTPRequestHandler):
    server: FakeCaptchaServer

    def log_message(self, *args: Any) -> None:
        pass

    def _send(self, status: int, body: bytes, content_type: str, **headers: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802 (http.server naming)
        provider = {"/turnstile/v0/api.js": "turnstile", "/hcaptcha/1/api.js": "hcaptcha"}.get(
            self.path.split("?", 1)[0]
        )
        if provider is None:
            self.send_error(404)
            return
        self.server.widget_script_requests.append(self.path)
        script = WIDGET_SCRIPT % {"provider": json.dumps(provider)}
        self._send(200, script.encode(), "text/javascript")

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(length).decode()
        provider = PATHS.get(self.path)
        if provider is None:
            self.send_error(404)
            return
        form = {key: values[0] for key, values in parse_qs(raw).items()}
        self.server.requests[provider].append(form)
        if self.server.hang.is_set():
            self.server.release.wait(10)
            return
        body = self._verdict(provider, form)
        self._send(200, body, "application/json")

    def _verdict(self, provider: str, form: dict[str, str]) -> bytes:
        token = form.get("response", "")
        if form.get("secret") != SECRETS[provider]:
            return json.dumps({"success": False, "error-codes": ["invalid-input-secret"]}).encode()
        key = (provider, token)
        with self.server.lock:
            if key in self.server.seen:
                retry = form.get("idempotency_key")
                if provider == "turnstile" and retry and retry == self.server.seen[key]:
                    return self.server.first_answers[key]
                duplicate = {"success": False, "error-codes": [DUPLICATE[provider]]}
                return json.dumps(duplicate).encode()
            answer = self.server.answers.get(key)
            if answer is None and token.startswith(f"{provider}-widget-"):
                answer = self.server.widget_answer.get(provider)
            if answer is None:
                answer = {"success": False, "error-codes": ["invalid-input-response"]}
            body = json.dumps({"error-codes": [], **answer}).encode()
            self.server.seen[key] = form.get("idempotency_key", "")
            self.server.first_answers[key] = body
            return body


def fake_captcha_start() -> FakeCaptchaServer:
    server = FakeCaptchaServer(("127.0.0.1", 0), FakeCaptchaHandler)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    return server


def fake_captcha_stop(server: FakeCaptchaServer) -> None:
    server.release.set()
    server.shutdown()
    server.server_close()


def captcha_settings(server: FakeCaptchaServer) -> dict[str, Any]:
    """GATEHOUSE settings that point both providers at ``server``."""
    return {
        "TURNSTILE_SITE_KEY": TURNSTILE_SITE_KEY,
        "TURNSTILE_SECRET": TURNSTILE_SECRET,
        "TURNSTILE_VERIFY_URL": server.verify_url("turnstile"),
        "HCAPTCHA_SITE_KEY": HCAPTCHA_SITE_KEY,
        "HCAPTCHA_SECRET": HCAPTCHA_SECRET,
        "HCAPTCHA_VERIFY_URL": server.verify_url("hcaptcha"),
        "CAPTCHA_VERIFY_TIMEOUT": 1.0,
    }


@pytest.fixture(name="fake_captcha")
def fake_captcha_fixture(settings: Any) -> Iterator[FakeCaptchaServer]:
    """Turnstile and hCaptcha pointed at a fake on 127.0.0.1."""
    server = fake_captcha_start()
    settings.GATEHOUSE = {**settings.GATEHOUSE, **captcha_settings(server)}
    yield server
    fake_captcha_stop(server)
