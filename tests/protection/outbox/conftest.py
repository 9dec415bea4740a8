"""A test channel whose sender does what the test says, registered for one test."""

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from protection.core.outbox import CHANNELS, Delivery, outbox_channel_register


class ScriptedChannel:
    """Records each attempt; raises the next of ``failures`` (None = success)."""

    def __init__(self) -> None:
        self.attempts: list[tuple[dict[str, Any], Delivery]] = []
        self.failures: list[BaseException | None] = []
        self.always: BaseException | None = None
        self.outcomes: list[tuple[str, str]] = []

    def send(self, payload: Any, delivery: Delivery) -> None:
        self.attempts.append((dict(payload), delivery))
        failure = self.failures.pop(0) if self.failures else self.always
        if failure is not None:
            raise failure

    def observe(self, message: Any, outcome: str, error: str) -> None:
        self.outcomes.append((outcome, error))


@pytest.fixture
def scripted() -> Iterator[ScriptedChannel]:
    channel = ScriptedChannel()
    outbox_channel_register("test", channel.send, observe=channel.observe)
    yield channel
    CHANNELS.pop("test", None)


@pytest.fixture
def gatehouse(settings: Any) -> Callable[..., None]:
    """``gatehouse(NAME=value, ...)``: override GATEHOUSE keys for this test."""

    def override(**values: Any) -> None:
        settings.GATEHOUSE = {**settings.GATEHOUSE, **values}

    return override
