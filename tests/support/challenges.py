"""Test support for challenges and sessions: an ALTCHA solver, an easy default
difficulty, and a fake Google siteverify speaking the real protocol over HTTPS
on 127.0.0.1 (django-recaptcha always calls https://RECAPTCHA_DOMAIN/...)."""

import json
import ssl
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import altcha
import pytest

from tests.support.tools import tool_required

FAKE_SECRET = "fake-recaptcha-secret"
FAKE_SITE_KEY = "fake-recaptcha-site-key"


def solve(challenge: dict[str, Any]) -> str:
    """Solve an ALTCHA v2 challenge object as a client would; return the payload."""
    parsed = altcha.Challenge.from_dict(challenge)
    solution = altcha.solve_challenge(parsed, timeout=60)
    assert solution is not None
    return altcha.Payload(parsed, solution).to_base64()


@pytest.fixture(name="easy_pow")
def easy_pow_fixture(settings: Any) -> None:
    """A small default difficulty so the fast suite solves in milliseconds."""
    settings.GATEHOUSE = {**settings.GATEHOUSE, "POW_MAX_NUMBER": 400, "POW_MAX_NUMBER_CAP": 6400}


class SiteverifyServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.answers: dict[str, dict[str, Any]] = {}  # token -> JSON answer
        self.requests: list[dict[str, str]] = []
        self.hang = threading.Event()  # set: hold requests open (a slow Google)
        self.release = threading.Event()
        self.raw_body: bytes | None = None  # non-JSON answer
        # Seconds between single bytes of the answer (a Google that drips); 0 = off.
        self.drip_interval = 0.0

    def answer(self, token: str, **fields: Any) -> None:
        self.answers[token] = fields


class SiteverifyHandler(BaseHTTPRequestHandler):
    server: SiteverifyServer

    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:  # noqa: N802 (http.server naming)
        if self.path != "/recaptcha/api/siteverify":
            self.send_error(404)
            return
        length = int(self.headers.get("Content-Length", "0"))
        form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
        self.server.requests.append(form)
        if self.server.hang.is_set():
            self.server.release.wait(10)
            return
        if self.server.raw_body is not None:
            body = self.server.raw_body
        elif form.get("secret") != FAKE_SECRET:
            body = json.dumps({"success": False, "error-codes": ["invalid-input-secret"]}).encode()
        else:
            answer = self.server.answers.get(form.get("response", ""))
            if answer is None:
                answer = {"success": False, "error-codes": ["invalid-input-response"]}
            body = json.dumps(answer).encode()
        if self.server.drip_interval:
            self._drip(body)
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _drip(self, body: bytes) -> None:
        # Bounded: at most 30 bytes, and it stops as soon as the test is over.
        answer = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
        for byte in answer[:30]:
            try:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
            except OSError:
                return
            if self.server.release.wait(self.server.drip_interval):
                return


@pytest.fixture(scope="session", name="localhost_cert")
def localhost_cert_fixture(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (trusted through SSL_CERT_FILE)."""
    tool_required("openssl", package="openssl")
    directory = tmp_path_factory.mktemp("tls")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


def siteverify_start(cert: Path, key: Path) -> SiteverifyServer:
    server = SiteverifyServer(("127.0.0.1", 0), SiteverifyHandler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    return server


@pytest.fixture(name="siteverify")
def siteverify_fixture(
    settings: Any, monkeypatch: pytest.MonkeyPatch, localhost_cert: tuple[Path, Path]
) -> Iterator[SiteverifyServer]:
    """Point django-recaptcha at a fake siteverify on 127.0.0.1."""
    cert, key = localhost_cert
    server = siteverify_start(cert, key)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    settings.RECAPTCHA_DOMAIN = f"127.0.0.1:{server.server_address[1]}"
    settings.RECAPTCHA_PRIVATE_KEY = FAKE_SECRET
    settings.RECAPTCHA_PUBLIC_KEY = FAKE_SITE_KEY
    settings.RECAPTCHA_VERIFY_REQUEST_TIMEOUT = 1
    yield server
    server.release.set()
    server.shutdown()
    server.server_close()
