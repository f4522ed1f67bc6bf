"""Playwright driving Debian's chromium (never a downloaded browser) against a real
server process on the test database, plus a real Celery worker for ingestion.

Each test gets a fresh browser profile (a new user-data-dir). The flags keep chromium
from reaching out to Google's services, which fails on a closed network."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from conftest import ServerProcesses, _test_database_url, wait_for_quiet_database

CHROMIUM = "/usr/bin/chromium"
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
SCREENSHOTS = Path(__file__).resolve().parents[3] / "docs" / "screenshots"
# The local model pauses between tokens so a browser sees an answer stream in.
SERVER_ENV = {"LOCAL_MODEL_TOKEN_DELAY_MS": "15", "GENAI_CELERY_EAGER": "0"}

if not os.path.exists(CHROMIUM):  # .ci/run installs it; say so rather than fail obscurely
    pytest.skip(
        "Debian's chromium is not installed (apt-get install chromium; .ci/run does it)",
        allow_module_level=True,
    )


@pytest.fixture(scope="session")
def browser_server(django_db_setup, django_db_blocker) -> Iterator[str]:
    """One server process for the browser tests of this xdist worker."""
    with django_db_blocker.unblock():
        servers = ServerProcesses(_test_database_url())
    yield servers.start(**SERVER_ENV)
    servers.stop_all()


@pytest.fixture(scope="session")
def celery_worker(django_db_setup, django_db_blocker) -> Iterator[None]:
    """A real Celery worker on this xdist worker's Redis database and the test database,
    started once, only by the tests that upload documents."""
    with django_db_blocker.unblock():
        database_url = _test_database_url()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.django.test",
        "GENAI_TEST_SERVER_PROCESS": "1",
        "GENAI_CELERY_EAGER": "0",
        "DATABASE_URL": database_url,
        "REDIS_URL": settings.REDIS_URL.split("?")[0]
        if settings.EMBEDDED_REDIS
        else settings.REDIS_URL,
    }
    log = tempfile.NamedTemporaryFile(prefix="celery-", suffix=".log", delete=False)  # noqa: SIM115
    worker = subprocess.Popen(  # fixed argv: this interpreter running celery
        [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool", "solo",
         "--loglevel", "WARNING", "--without-heartbeat", "--without-gossip", "--without-mingle"],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    yield
    worker.terminate()
    try:
        worker.wait(timeout=15)
    except subprocess.TimeoutExpired:
        worker.kill()


@pytest.fixture(scope="module")
def playwright_driver() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an asyncio loop in this thread; Django's ORM (used by
    # the tests to check what was stored) would otherwise refuse to run beside it.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as driver:
        yield driver
    if previous is None:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@dataclass
class Watch:
    """What the page did that it should not have: dialogs (alert), page errors, CSP
    violations."""

    dialogs: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    csp_violations: list[str] = field(default_factory=list)


@pytest.fixture
def browser_page(
    playwright_driver, browser_server, transactional_db, chat_catalogue
) -> Iterator[tuple[Any, Watch]]:
    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    context = playwright_driver.chromium.launch_persistent_context(
        profile,
        executable_path=CHROMIUM,
        headless=True,
        args=CHROMIUM_ARGS,
        base_url=browser_server,
        viewport={"width": 1280, "height": 800},
        permissions=["clipboard-read", "clipboard-write"],
    )
    context.set_default_timeout(15_000)
    page = context.pages[0] if context.pages else context.new_page()
    watch = Watch()

    def on_dialog(dialog: Any) -> None:  # an alert() would mean injected script ran
        watch.dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.on("pageerror", lambda error: watch.errors.append(str(error)))
    page.on(
        "console",
        lambda message: (
            watch.csp_violations.append(message.text)
            if "Content Security Policy" in message.text
            else None
        ),
    )
    yield page, watch
    context.close()
    shutil.rmtree(profile, ignore_errors=True)
    wait_for_quiet_database()


def screenshot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


PASSWORD = "a long enough passphrase 42"


def sign_up(page: Any, email: str, password: str = PASSWORD) -> None:
    page.goto("/accounts/signup/")
    page.locator("input[name=email]").fill(email)
    page.locator("input[name=password1]").fill(password)
    page.locator("input[name=password2]").fill(password)
    page.get_by_role("button", name="Create account").click()
    page.wait_for_url("**/dashboard/")


def wait_until(condition: Any, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.1)
