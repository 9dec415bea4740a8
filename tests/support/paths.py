"""Where the checkout is: every test and helper that needs a path starts here."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # the worktree (tests/support/ is two below)
