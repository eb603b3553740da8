"""The browser the page tests drive: Debian's chromium (.ci/run installs it), through Playwright, with no browser
download of its own."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Playwright, sync_playwright

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as started:
        yield started


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = launch(playwright)
    try:
        yield browser
    finally:
        browser.close()


def launch(playwright: Playwright, *extra: str) -> Browser:
    """Chromium as the tests run it; `extra`: more switches (a fake camera, say)."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=[*ARGS, *extra])
