"""A Redis that accepts connections and never answers (black-holed).

One circuit breaker covers every use of the cache: counters, denial
counters, the difficulty boost, the issuance count, revocation marks and the
block-list version. So a process pays one timeout, then skips the cache for
``RATE_LIMIT_CACHE_RETRY_AFTER`` seconds and answers by the documented
policy (local counters; 503 where a quota cannot be kept) without waiting.
The listener counts what reaches it: one wait, not one per use.
"""

import socket
import threading

import pytest

from protection.core.events import SecurityEvent

pytestmark = pytest.mark.django_db


class BlackHole:
    """Accepts TCP connections on loopback, reads what comes, never answers."""

    def __init__(self) -> None:
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(64)
        self.port = self.server.getsockname()[1]
        self.connections: list[socket.socket] = []
        self.requests = 0
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.server.accept()
            except OSError:
                return
            self.connections.append(connection)
            threading.Thread(target=self._drain, args=(connection,), daemon=True).start()

    def _drain(self, connection: socket.socket) -> None:
        while True:
            try:
                data = connection.recv(65536)
            except OSError:
                return
            if not data:
                return
            self.requests += 1

    def close(self) -> None:
        self.server.close()
        for connection in self.connections:
            connection.close()


@pytest.fixture
def black_hole(settings):
    hole = BlackHole()
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{hole.port}/0",
            "OPTIONS": {"socket_connect_timeout": 0.25, "socket_timeout": 0.25},
        }
    }
    settings.GATEHOUSE = {**settings.GATEHOUSE, "RATE_LIMIT_CACHE_RETRY_AFTER": 60}
    yield hole
    hole.close()


def test_a_black_holed_cache_costs_one_wait_then_answers_by_policy(
    client, make_api_key, black_hole
):
    _key, raw = make_api_key()
    for _ in range(5):
        response = client.post("/api/v1/challenges", HTTP_X_API_KEY=raw)
        # Local counters keep limiting; the challenge is issued (policy "local").
        assert response.status_code == 201
    # Every cache use of five challenges (counters, denial counters, the key's
    # boost, the issuance count, the block-list version) waited once in all.
    assert black_hole.requests == 1
    assert SecurityEvent.objects.filter(kind="cache_unavailable").count() == 1


def test_a_lookup_refuses_at_once_when_its_quota_cannot_be_kept(
    client, make_api_key, make_session, black_hole
):
    key, raw = make_api_key()
    issued = make_session(key)
    auth = {"HTTP_X_API_KEY": raw, "HTTP_AUTHORIZATION": f"Bearer {issued.access}"}
    for _ in range(3):
        response = client.post(
            "/api/v1/persons/lookup", {"email": "a@example.com"}, format="json", **auth
        )
        assert response.status_code == 503
        assert response.json()["code"] == "service_unavailable"
    assert black_hole.requests == 1
