"""Per-process state (memos, local counters, compiled lists), registered by its owner.

Each module that keeps state for the life of a process registers how to
reset it; ``process_state_reset`` resets all of it at once. Tests call it
between tests, and a forked worker could call it at start. One list, so a
new cache cannot be forgotten by a reset written somewhere else.
"""

from collections.abc import Callable

_resets: dict[str, Callable[[], None]] = {}


def process_state_register(name: str, reset: Callable[[], None]) -> None:
    """Declare per-process state ``name`` and the function that empties it."""
    _resets[name] = reset


def process_state_reset() -> None:
    """Empty every registered piece of per-process state."""
    for reset in list(_resets.values()):
        reset()


def process_state_names() -> list[str]:
    return sorted(_resets)
