"""Fixtures for browser tests: the real app served on loopback, and a headless Chromium page.

The app runs in a background thread under Werkzeug's threaded server on an OS-chosen port of
127.0.0.1 (the only host the test suite may connect to). It is built with
``SESSION_COOKIE_SECURE=False``: the page is served over plain HTTP, and a browser does not
reliably send a Secure cookie there.

The browser is Debian's Chromium at :data:`CHROMIUM`; Playwright never downloads one. Where it
is missing the browser tests are skipped, except in CI (``CI=true``), where they fail.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import ConsoleMessage, Error, Page, sync_playwright
from werkzeug.serving import BaseWSGIServer, make_server

from coordinator.extensions import db
from coordinator.logreview import chainstatus
from tests.conftest import make_app

#: The browser the tests drive: Debian's ``chromium`` package.
CHROMIUM = Path("/usr/bin/chromium")

#: Why browser tests cannot run when :data:`CHROMIUM` is missing.
NO_CHROMIUM = (
    f"Chromium not installed at {CHROMIUM}: install Debian's chromium package to run browser tests"
)

#: Flags for a headless Chromium running as root on a machine without outside network: no
#: sandbox (root), and none of the background traffic (updates, sync, QUIC probes) it would
#: otherwise attempt.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]

#: Longest wait, in milliseconds, for any page, element or navigation.
TIMEOUT_MS = 10_000


def require_chromium() -> None:
    """Skip the test when Chromium is missing; in CI (``CI=true``) fail instead."""
    if CHROMIUM.exists():
        return
    if os.environ.get("CI") == "true":
        pytest.fail(NO_CHROMIUM)
    pytest.skip(NO_CHROMIUM)


@pytest.fixture
def live_app(database_url: str, tmp_path: Path) -> Iterator[Flask]:
    """The app on a fresh migrated database, with a session cookie that works over HTTP."""
    app = make_app(database_url, tmp_path / "instance", SESSION_COOKIE_SECURE=False)
    yield app
    chainstatus.wait_all()  # a verification started from a page must end before its database
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def live_url(live_app: Flask) -> Iterator[str]:
    """The base URL (no trailing slash) of ``live_app`` served in a background thread."""
    server: BaseWSGIServer = make_server("127.0.0.1", 0, live_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


@dataclass
class ConsoleErrors:
    """Errors the page reported: console messages of type "error" and uncaught exceptions.

    A resource refused by the Content-Security-Policy, or one that fails to load (a missing
    icon included), shows up here as a console error.
    """

    messages: list[str] = field(default_factory=list)

    def on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.messages.append(f"console: {message.text} ({message.location})")

    def on_page_error(self, error: Error) -> None:
        self.messages.append(f"page error: {error.message}")

    def watch(self, page: Page) -> None:
        page.on("console", self.on_console)
        page.on("pageerror", self.on_page_error)


@pytest.fixture
def console_errors() -> ConsoleErrors:
    """The console errors of ``browser_page``, collected from its creation on."""
    return ConsoleErrors()


@pytest.fixture
def browser_page(console_errors: ConsoleErrors) -> Iterator[Page]:
    """A page in a fresh headless Chromium (one browser and context per test)."""
    require_chromium()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        context = browser.new_context()
        context.set_default_timeout(TIMEOUT_MS)
        context.set_default_navigation_timeout(TIMEOUT_MS)
        page = context.new_page()
        console_errors.watch(page)
        try:
            yield page
        finally:
            page.close()
            context.close()
            browser.close()


#: Werkzeug's development server leaves a static file's handle to the garbage collector when
#: the browser drops the connection mid-response (a navigation cancels a favicon or stylesheet
#: request): a ResourceWarning from the server thread, not from the app, that pytest reports
#: against whichever test is running. Only that one is ignored, and only in browser tests.
_DROPPED_STATIC_FILE = (
    "ignore:Exception ignored in. <_io.FileIO name='[^']*/static/"
    ":pytest.PytestUnraisableExceptionWarning"
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.filterwarnings(_DROPPED_STATIC_FILE))
