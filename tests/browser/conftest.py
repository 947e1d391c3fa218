"""Browser harness: Playwright for Python driving Debian's Chromium against pytest-django's live_server.

Every test under tests/browser/ is marked `browser`. The fixtures:
- `browser` (package): one headless Chromium for all of tests/browser; skipped with a reason when
  /usr/bin/chromium is missing, a failure instead when REQUIRE_BROWSER=1 (CI).
- `page` (per test): a fresh context (no cookies shared between tests) whose base_url is the live server,
  so tests write `page.goto("/s/alder/")`. A failing test leaves a screenshot in var/screenshots/.
Sign in with tests.browser.helpers.sign_in.
"""

import os
import re
import shutil
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 10_000
SCREENSHOT_DIR = Path(__file__).resolve().parents[2] / "var" / "screenshots"
BROWSER_DIR = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config, items):
    # This hook sees every collected item, not only ours: mark just the ones that live here.
    for item in items:
        if BROWSER_DIR in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.browser)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    # Keep each phase's report on the item so the page fixture knows, at teardown, whether the test failed.
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


def _unavailable(reason: str):
    if os.environ.get("REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason} (REQUIRE_BROWSER=1, so this is a failure, not a skip)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="package")
def browser(django_db_setup):
    # Package scope: Playwright's event loop (and DJANGO_ALLOW_ASYNC_UNSAFE) lives only while tests/browser runs,
    # so tests collected after it run outside any event loop, as they would alone.
    if not (shutil.which(CHROMIUM) or Path(CHROMIUM).is_file()):
        _unavailable(f"browser tests need Chromium at {CHROMIUM} (apt-get install chromium)")
    try:
        from playwright.sync_api import expect, sync_playwright
    except ImportError:
        _unavailable("browser tests need the playwright package (pip install -e '.[dev]')")

    # Playwright's sync API runs an event loop in this thread; test bodies still read the database
    # synchronously, which Django would otherwise refuse inside a running loop.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    expect.set_options(timeout=TIMEOUT_MS)
    serialized = _serialized_contents()
    with sync_playwright() as playwright:
        _serialized_contents(serialized)
        # Playwright launches every browser with a fresh temporary profile (user-data-dir) of its own.
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()
            # Close the connections opened on this thread's event-loop context; left open, they stop
            # PostgreSQL from dropping the test database at the end of the run.
            from django.db import connections

            connections.close_all()
    if previous is None:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


def _serialized_contents(restore: dict | None = None) -> dict:
    """Read, or hand on, the database snapshot serialized rollback restores.

    Inside a running event loop asgiref gives this thread a fresh set of database connection objects,
    and the snapshot Django took when it created the test database is an attribute of the old ones.
    Without handing it on, every transactional test after the first would start without the roles.
    """
    from django.db import connections

    if restore is None:
        return {alias: getattr(connections[alias], "_test_serialized_contents", None) for alias in connections}
    for alias, contents in restore.items():
        if contents is not None:
            connections[alias]._test_serialized_contents = contents
    return restore


@pytest.fixture
def page(browser, live_server, django_db_serialized_rollback, request):
    # live_server makes the test transactional, and a transactional test ends by emptying every table,
    # including the roles catalogue the data migration seeded. Serialized rollback puts those rows back
    # before each test, so the browser tests work in any order and leave the catalogue for the next one.
    context = browser.new_context(base_url=live_server.url, locale="en-GB", timezone_id="Europe/London")
    context.set_default_timeout(TIMEOUT_MS)
    tab = context.new_page()
    try:
        yield tab
    finally:
        failed = any(
            getattr(request.node, f"rep_{when}", None) and getattr(request.node, f"rep_{when}").failed
            for when in ("setup", "call")
        )
        if failed:
            _screenshot(tab, request.node.nodeid)
        context.close()


def _screenshot(tab, nodeid: str) -> None:
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOT_DIR / (re.sub(r"[^A-Za-z0-9_.-]+", "_", nodeid).strip("_") + ".png")
    try:
        tab.screenshot(path=str(path), full_page=True)
        print(f"\nscreenshot of the failing page: {path} (at {tab.url})")
    except Exception as exc:  # noqa: BLE001 - a screenshot must never hide the real failure
        print(f"\nno screenshot: {exc}")
