"""Local HTTP receivers on 127.0.0.1 for the outbox's tests: a webhook receiver
that records what it gets and answers as told, and a fake of Twilio's
Messages API speaking its real protocol (form POST, basic auth, JSON)."""

import base64
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    body: bytes


@dataclass
class Answer:
    status: int = 204
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    delay: float = 0.0  # seconds before the status line
    drip: float = 0.0  # seconds between single body bytes (a slow client's mirror)


class Receiver:
    """Records every request; answers with ``answers`` in turn, then ``default``."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.answers: list[Answer] = []
        self.default = Answer()
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with receiver.lock:
                    receiver.received.append(
                        Received(
                            self.command,
                            self.path,
                            {k.lower(): v for k, v in self.headers.items()},
                            body,
                        )
                    )
                    answer = receiver.answers.pop(0) if receiver.answers else receiver.default
                answer = receiver.answer_for(self.command, self.path, body) or answer
                if answer.delay:
                    time.sleep(answer.delay)
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header(
                    "Content-Length", str(len(answer.body) or (1000 if answer.drip else 0))
                )
                self.end_headers()
                if answer.drip:
                    try:
                        for _ in range(1000):
                            self.wfile.write(b".")
                            self.wfile.flush()
                            time.sleep(answer.drip)
                    except OSError:
                        return
                else:
                    self.wfile.write(answer.body)

            do_POST = _handle
            do_GET = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def answer_for(self, method: str, path: str, body: bytes) -> Answer | None:
        """Protocol hook for subclasses (the Twilio fake); None: the queued answer."""
        return None

    def start(self) -> "Receiver":
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@contextmanager
def receiving(receiver: Receiver | None = None) -> Iterator[Receiver]:
    receiver = (receiver or Receiver()).start()
    try:
        yield receiver
    finally:
        receiver.stop()


class FakeTwilio(Receiver):
    """Twilio's ``POST /2010-04-01/Accounts/{sid}/Messages.json`` with basic auth.

    Answers 201 with a message resource, 401 (error 20003) for wrong
    credentials, 400 (error 21211) for a "To" that is not +E.164, and
    whatever ``fail_with`` says (status, code) for the next requests.
    """

    def __init__(self, *, account_sid: str, auth_token: str) -> None:
        super().__init__()
        self.account_sid, self.auth_token = account_sid, auth_token
        self.fail_with: list[tuple[int, int, dict[str, str]]] = []

    @staticmethod
    def _error(status: int, code: int, message: str, headers: dict | None = None) -> Answer:
        body = {
            "code": code,
            "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        }
        return Answer(
            status,
            {"Content-Type": "application/json", **(headers or {})},
            json.dumps(body).encode(),
        )

    def answer_for(self, method: str, path: str, body: bytes) -> Answer | None:
        expected_path = f"/2010-04-01/Accounts/{self.account_sid}/Messages.json"
        if method != "POST" or path != expected_path:
            return self._error(404, 20404, "The requested resource was not found")
        auth = self.received[-1].headers.get("authorization", "")
        expected = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        if auth != f"Basic {expected}":
            return self._error(401, 20003, "Authenticate")
        if self.fail_with:
            status, code, headers = self.fail_with.pop(0)
            return self._error(status, code, "Failure injected by the test", headers)
        form = {key: values[0] for key, values in parse_qs(body.decode()).items()}
        to = form.get("To", "")
        if not to.startswith("+") or not to[1:].isdigit():
            return self._error(400, 21211, f"The 'To' number {to} is not a valid phone number.")
        resource = {
            "sid": "SM" + "0" * 32,
            "account_sid": self.account_sid,
            "to": to,
            "from": form.get("From"),
            "messaging_service_sid": form.get("MessagingServiceSid"),
            "body": form.get("Body"),
            "status": "queued",
            "error_code": None,
            "error_message": None,
            "api_version": "2010-04-01",
        }
        return Answer(201, {"Content-Type": "application/json"}, json.dumps(resource).encode())
