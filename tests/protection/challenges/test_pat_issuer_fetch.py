"""``manage.py pat_issuer_fetch`` against a fake issuer directory on 127.0.0.1."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from protection.challenges.pat import pat_token_verify
from tests.support.pat import PatIssuerKey

DIRECTORY_PATH = "/.well-known/private-token-issuer-directory"


class DirectoryServer(ThreadingHTTPServer):
    daemon_threads = True
    document: Any = None
    paths: list[str]


class DirectoryHandler(BaseHTTPRequestHandler):
    server: DirectoryServer

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802 (http.server naming)
        self.server.paths.append(self.path)
        if self.path != DIRECTORY_PATH:
            self.send_error(404)
            return
        body = json.dumps(self.server.document).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/private-token-issuer-directory")
        self.send_header("Cache-Control", "max-age=86400")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def directory():
    server = DirectoryServer(("127.0.0.1", 0), DirectoryHandler)
    server.paths = []
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def fetch(*args: str) -> list[str]:
    out = StringIO()
    call_command("pat_issuer_fetch", *args, stdout=out)
    return out.getvalue().splitlines()


def test_the_printed_value_makes_the_issuers_tokens_verify(directory, settings):
    current, next_key = PatIssuerKey(name="issuer.example"), PatIssuerKey(name="issuer.example")
    directory.document = {
        "issuer-request-uri": "/request",
        "token-keys": [
            {"token-type": 2, "token-key": current.token_key},
            {"token-type": 2, "token-key": next_key.token_key, "not-before": 1999999999},
        ],
    }
    url = f"http://127.0.0.1:{directory.server_address[1]}{DIRECTORY_PATH}"
    lines = fetch(url, "--name", "issuer.example")
    assert "2 token key(s)" in lines[0]
    value = lines[-1]
    assert value == f"issuer.example={current.token_key},issuer.example={next_key.token_key}"
    settings.GATEHOUSE = {**settings.GATEHOUSE, "PAT_ISSUERS": value.split(",")}
    assert pat_token_verify(next_key.token(b"challenge")).issuer.name == "issuer.example"


def test_the_issuer_name_defaults_to_the_directory_host(directory):
    issuer = PatIssuerKey()
    directory.document = {"token-keys": [{"token-type": 2, "token-key": issuer.token_key}]}
    port = directory.server_address[1]
    lines = fetch(f"http://127.0.0.1:{port}{DIRECTORY_PATH}", "-v", "0")
    assert lines == [f"127.0.0.1:{port}={issuer.token_key}"]


def test_a_directory_without_type_2_keys_is_an_error(directory):
    directory.document = {"token-keys": [{"token-type": 1, "token-key": "AAAA"}]}
    with pytest.raises(CommandError, match="type 2"):
        fetch(f"http://127.0.0.1:{directory.server_address[1]}{DIRECTORY_PATH}")


def test_an_unreachable_issuer_is_an_error_not_a_traceback():
    with pytest.raises(CommandError):
        fetch("http://127.0.0.1:1/.well-known/private-token-issuer-directory", "--timeout", "1")
