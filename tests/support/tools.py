"""Command-line tools a test needs (wrk, make, openssl…): found, or the test
says which Debian package brings it. Outside CI a missing tool skips the
test with that reason (the run's closing line counts it); in CI it fails,
because .ci/run installs every tool the suite needs and a skip there would
hide a test that never ran."""

import os
import shutil

import pytest


def tool_required(name: str, *, package: str) -> str:
    """The path of ``name``; skip (fail in CI) when it is not installed."""
    path = shutil.which(name)
    if path:
        return path
    reason = f"needs {name} (apt-get install {package})"
    if os.environ.get("CI"):
        pytest.fail(f"{reason}: .ci/run installs it", pytrace=False)
    pytest.skip(reason)
