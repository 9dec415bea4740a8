"""Playwright with the system Chromium, for the browser tests.

Import ``browser_fixture`` into a test module (``# noqa: F401``) and call
``require_chromium()`` at its top. Chromium comes from the Debian package
(``.ci/run`` installs it); Playwright's own browser download is never used.
Outside CI (``CI`` unset) a missing Chromium skips the module with the
reason; in CI it fails. Screenshots go to ``test-artifacts/``.
"""

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.paths import ROOT

CHROMIUM = os.environ.get("GATEHOUSE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = ROOT / "test-artifacts"


def require_chromium() -> Any:
    """Return the playwright.sync_api module, or skip the calling module outside CI."""
    if os.environ.get("CI"):
        import playwright.sync_api as api  # in CI a missing package is a failure

        return api
    if not shutil.which(CHROMIUM):
        pytest.skip(
            f"needs Chromium at {CHROMIUM} (apt-get install chromium); .ci/run installs it",
            allow_module_level=True,
        )
    return pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module", name="browser")
def browser_fixture() -> Iterator[Any]:
    api = require_chromium()
    # Playwright's sync API keeps an event loop running in this thread; the
    # ORM calls the tests make between page actions are still synchronous.
    # Only for these tests: subprocesses of other tests must not inherit it.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with api.sync_playwright() as playwright:
            launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            yield launched
            launched.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


def plain_http_live_server(live_server: Any) -> None:
    """Rebuild the session-wide live server's middleware under this test's settings.

    It was built before the per-test settings (plain HTTP, see
    tests/conftest.py) applied, and would redirect Chromium to HTTPS.
    """
    live_server.thread.httpd.get_app().application.load_middleware()


def screenshot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
