"""Real headless Chromium for the browser tests: Debian's /usr/bin/chromium driven by Playwright for Python.

Playwright never downloads a browser here (`playwright install` cannot reach its CDN): it drives the Debian
package that `.ci/run` installs. Each launch gets a fresh, empty profile. Outside CI a machine without Chromium
skips the browser tests with the reason; in CI (`CI` set) the same absence fails them, so a green CI run always
means the pages were really driven.

    from tests.e2e.browser import browser_page, assert_accessible

    def test_statement_page(chromium):
        with browser_page(chromium) as page:
            page.goto(url)
            assert_accessible(page)
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("ARREARS_CHROMIUM", "/usr/bin/chromium")
AXE_SCRIPT = ROOT / "node_modules" / "axe-core" / "axe.min.js"
# Without the background-networking flags Chromium keeps dialling Google's hosts, which this closed network refuses.
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-quic",
]
# axe-core's impact levels a page must not have; "minor"/"moderate" findings are reported, not failed.
FAILING_IMPACTS = ("serious", "critical")


def require_chromium() -> None:
    """Skip (or, in CI, fail) when Debian's Chromium or axe-core is not installed."""
    missing = [what for what, ok in (("Debian's chromium (/usr/bin/chromium; .ci/run installs it)", Path(CHROMIUM).exists()),
                                     ("axe-core (npm ci)", AXE_SCRIPT.exists())) if not ok]
    if missing:
        message = "browser tests need " + " and ".join(missing)
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


# Each test module imports `chromium`, which makes it a fixture of that module: a second module's would start a
# second sync Playwright inside the first one's event loop, which Playwright refuses. So they share one.
_SHARED: dict = {}


@pytest.fixture(scope="session")
def chromium():
    """One headless Chromium per test session, shared by every module that imports this fixture."""
    require_chromium()
    from playwright.sync_api import sync_playwright

    if not _SHARED:
        # Playwright starts Chromium with a new temporary --user-data-dir of its own and removes it on close.
        playwright = sync_playwright().start()
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        _SHARED.update(playwright=playwright, browser=browser, users=0)
    _SHARED["users"] += 1
    try:
        yield _SHARED["browser"]
    finally:
        _SHARED["users"] -= 1
        if not _SHARED["users"]:
            _SHARED.pop("browser").close()
            _SHARED.pop("playwright").stop()
            _SHARED.clear()


@contextmanager
def browser_page(browser, *, viewport: tuple[int, int] = (1280, 900), locale: str = "en-GB",
                 timezone_id: str = "Europe/London", java_script_enabled: bool = True) -> Iterator:
    """A page in a fresh context (no cookies or storage shared with other tests); the context closes after."""
    context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]}, locale=locale,
                                  timezone_id=timezone_id, java_script_enabled=java_script_enabled)
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()


def axe_violations(page, *, impacts: tuple[str, ...] = FAILING_IMPACTS) -> list[dict]:
    """Run axe-core on the page as it is now; the violations of the given impacts, each with its nodes' selectors.

    The script is evaluated through the DevTools protocol, which a page's Content-Security-Policy does not block,
    so pages keep their strict policy under test."""
    page.evaluate(AXE_SCRIPT.read_text(encoding="utf-8"))
    results = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [
        {"id": v["id"], "impact": v["impact"], "help": v["help"],
         "targets": [", ".join(map(str, node["target"])) for node in v["nodes"]]}
        for v in results["violations"] if v["impact"] in impacts
    ]


def assert_accessible(page) -> None:
    """Fail with axe-core's own words when the page has a serious or critical accessibility violation."""
    violations = axe_violations(page)
    assert not violations, "axe-core found: " + "; ".join(
        f"{v['id']} ({v['impact']}): {v['help']} at {v['targets'][:3]}" for v in violations)
