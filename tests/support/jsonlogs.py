"""Capture log lines as the deployed console handler formats them (JSON)."""

import io
import json
import logging

from protection.logcontext import RequestContextFilter


class JsonLines:
    """The configured console handler's formatter and filters, writing to a buffer."""

    def __init__(self) -> None:
        configured = [
            handler
            for handler in logging.getLogger().handlers
            if any(isinstance(f, RequestContextFilter) for f in handler.filters)
        ]
        assert configured, "settings.LOGGING must install RequestContextFilter on a handler"
        self.buffer = io.StringIO()
        self.handler = logging.StreamHandler(self.buffer)
        self.handler.setFormatter(configured[0].formatter)
        for log_filter in configured[0].filters:
            self.handler.addFilter(log_filter)

    def __enter__(self) -> "JsonLines":
        logging.getLogger().addHandler(self.handler)
        return self

    def __exit__(self, *exc: object) -> None:
        logging.getLogger().removeHandler(self.handler)

    @property
    def text(self) -> str:
        return self.buffer.getvalue()

    def records(self) -> list[dict]:
        return [json.loads(line) for line in self.text.splitlines() if line.strip()]
