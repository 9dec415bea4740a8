"""Slowloris and slow-body clients, bounded in time, for loopback test servers.

``SlowClients`` keeps ``count`` connections open, each sending its request
one byte per ``interval`` seconds: the head (``mode="headers"``) or, after a
complete head, the body (``mode="body"``). A connection the server closes is
replaced, as a real attacker would. Everything stops after ``duration``
seconds or at ``stop()``; sources are loopback addresses (127.x.y.z), spread
so a per-address connection limit is not what the test measures.
"""

import socket
import threading
import time

HEAD = (
    b"POST /api/v1/persons/lookup HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
)
BODY_HEAD = HEAD + b"Content-Length: 8000\r\n\r\n"


class SlowClients:
    def __init__(
        self,
        *,
        host: str,
        port: int,
        count: int,
        mode: str,
        sources: list[str],
        interval: float = 0.5,
        duration: float = 20.0,
    ) -> None:
        if mode not in ("headers", "body"):
            raise ValueError(mode)
        self.address = (host, port)
        self.count, self.mode, self.sources = count, mode, sources
        self.interval, self.duration = interval, duration
        self.stopped = threading.Event()
        self.opened = 0
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _open(self, index: int) -> socket.socket | None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.settimeout(2)
        try:
            sock.bind((self.sources[index % len(self.sources)], 0))
            sock.connect(self.address)
            sock.sendall(HEAD if self.mode == "headers" else BODY_HEAD)
        except OSError:
            sock.close()
            return None
        sock.setblocking(False)
        self.opened += 1
        return sock

    def _run(self) -> None:
        deadline = time.monotonic() + self.duration
        sockets: list[socket.socket | None] = [self._open(i) for i in range(self.count)]
        drip = b"X" if self.mode == "headers" else b" "
        while not self.stopped.is_set() and time.monotonic() < deadline:
            for index, sock in enumerate(sockets):
                if sock is None:
                    sockets[index] = self._open(index)
                    continue
                try:
                    sock.send(drip)
                except BlockingIOError:
                    pass
                except OSError:  # closed by the server: come back
                    sock.close()
                    sockets[index] = self._open(index)
            self.stopped.wait(self.interval)
        for sock in sockets:
            if sock is not None:
                sock.close()

    def __enter__(self) -> "SlowClients":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join(timeout=30)

    def __exit__(self, *exc: object) -> None:
        self.stop()


def loopback_sources(count: int, third_octet: int = 1) -> list[str]:
    """``count`` distinct loopback addresses 127.0.<third_octet>.1…"""
    return [f"127.0.{third_octet}.{n}" for n in range(1, count + 1)]
