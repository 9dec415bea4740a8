"""Offline attestation helpers: Approov and App Check tokens minted with keys
generated at test time, and a local JWKS server that counts its fetches."""

import base64
import datetime
import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

NOW = datetime.datetime(2026, 5, 1, 12, 0, tzinfo=datetime.UTC)
PROJECT_NUMBER = "123456789012"
APP_ID = "1:123456789012:android:0a1b2c3d4e5f"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def sha256_b64(value: str) -> str:
    return base64.b64encode(hashlib.sha256(value.encode()).digest()).decode()


def unsigned_token(header: dict[str, Any], claims: dict[str, Any]) -> str:
    """A JWT with ``header`` as given and no signature (``alg: none`` attacks)."""
    return f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}."


def hmac_token(header: dict[str, Any], claims: dict[str, Any], key: bytes) -> str:
    """A JWT signed HS256 with any bytes, even a PEM public key (PyJWT refuses to)."""
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
    signature = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(signature)}"


def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def jwks_document(keys: dict[str, rsa.RSAPrivateKey]) -> bytes:
    entries = []
    for kid, private in keys.items():
        jwk = RSAAlgorithm.to_jwk(private.public_key(), as_dict=True)
        entries.append({**jwk, "kid": kid, "alg": "RS256", "use": "sig"})
    return json.dumps({"keys": entries}).encode()


def app_check_token(
    private: rsa.RSAPrivateKey,
    *,
    kid: str = "kid-1",
    now: datetime.datetime = NOW,
    header: dict[str, Any] | None = None,
    **claims: Any,
) -> str:
    """An App Check token as Firebase issues it; keyword claims replace (None drops)."""
    body = {
        "iss": f"https://firebaseappcheck.googleapis.com/{PROJECT_NUMBER}",
        "aud": [f"projects/{PROJECT_NUMBER}", "projects/demo-project"],
        "sub": APP_ID,
        "iat": int(now.timestamp()) - 60,
        "exp": int(now.timestamp()) + 3600,
        "jti": "jti-" + kid,
        **claims,
    }
    body = {name: value for name, value in body.items() if value is not None}
    return jwt.encode(
        body, private, algorithm="RS256", headers={"typ": "JWT", "kid": kid, **(header or {})}
    )


class JwksServer:
    """A JWKS (and token consumption) endpoint on 127.0.0.1:<free port>.

    ``document`` is served at /jwks with ``cache_control``; ``status`` other
    than 200 makes it fail; ``fetches`` counts GET /jwks. POST /consume
    answers ``{"alreadyConsumed": consumed}`` (or ``consume_status``).
    """

    def __init__(self, document: bytes) -> None:
        self.document = document
        self.cache_control = "public, max-age=21600"
        self.status = 200
        self.fetches = 0
        self.consumed = False
        self.consume_status = 200
        self.consume_bodies: list[dict[str, Any]] = []
        self.consume_auth: list[str | None] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                server.fetches += 1
                body = server.document if server.status == 200 else b"{}"
                self.send_response(server.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Cache-Control", server.cache_control)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length", 0))
                server.consume_bodies.append(json.loads(self.rfile.read(length) or b"{}"))
                server.consume_auth.append(self.headers.get("Authorization"))
                body = json.dumps({"alreadyConsumed": server.consumed}).encode()
                self.send_response(server.consume_status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def __enter__(self) -> "JwksServer":
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def serve_jwks(document: bytes) -> Iterator[JwksServer]:
    with JwksServer(document) as server:
        yield server
