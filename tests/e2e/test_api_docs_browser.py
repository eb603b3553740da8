"""The API docs page in a real browser with every request that would leave the server refused: it still renders the
operations, so it works on an intranet."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, Route

from tests.e2e.service import Service, served

pytestmark = pytest.mark.e2e

LOCAL_HOSTS = {"127.0.0.1", "localhost"}


def keep_local(page: Page) -> list[str]:
    """Refuse every request for another host (none is sent); returns the list of those refused."""
    outside: list[str] = []

    def only_local(route: Route) -> None:
        address = urlsplit(route.request.url)
        if address.scheme in ("data", "file") or address.hostname in LOCAL_HOSTS:
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", only_local)
    return outside


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    with served(tmp_path_factory.mktemp("docs") / "var", "--no-demo") as started:
        yield started


@pytest.mark.parametrize("page_path", ["/schema", "/schema/swagger"])
def test_the_docs_render_with_the_outside_world_blocked(page_path: str, browser: Browser, service: Service) -> None:
    failed: list[str] = []
    errors: list[str] = []
    page = browser.new_page()
    outside = keep_local(page)
    try:
        page.on("requestfailed", lambda request: failed.append(request.url))
        page.on("pageerror", lambda error: errors.append(str(error)))
        # a script or style the page's Content-Security-Policy refuses is reported on the console
        page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
        page.goto(f"{service.base}{page_path}")
        page.wait_for_selector(".opblock-summary-path", timeout=30_000)
        paths = set(page.locator(".opblock-summary-path").all_inner_texts())
        title = page.title()
    finally:
        page.close()

    assert "/api/v1/availability" in {path.replace("\u200b", "") for path in paths}
    assert title == "vaxbook"
    assert outside == []
    assert failed == []
    assert errors == []


def test_the_browser_really_is_cut_off(browser: Browser, tmp_path: Path) -> None:
    """The blocking above can fail: a page that wants the outside world is caught."""
    page_file = tmp_path / "outside.html"
    page_file.write_text("<html><head><link rel='stylesheet' href='http://192.0.2.1/x.css'></head></html>")
    page = browser.new_page()
    outside = keep_local(page)
    try:
        page.goto(page_file.as_uri())
    finally:
        page.close()
    assert outside == ["http://192.0.2.1/x.css"]
