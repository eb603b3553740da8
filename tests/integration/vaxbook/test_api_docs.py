"""The interactive API docs need nothing but the server: every page under /schema loads its scripts, styles and
icons from vaxbook itself (vendored, pinned), so it works on an intranet with no way out."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urlsplit

import httpx
from litestar import Litestar
from litestar.enums import MediaType
from litestar.routes import HTTPRoute

from vaxbook.app import OPENAPI_PATH
from web.docs import SWAGGER_UI

CONTENT_TYPES = {".js": ("text/javascript", "application/javascript"), ".css": ("text/css",), ".png": ("image/png",)}


class References(HTMLParser):
    """Every address a page makes the browser fetch or offers to go to: src and href of any element."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found += [value for name, value in attrs if name in ("src", "href") and value]


def docs_pages(app: Litestar) -> list[str]:
    return sorted(
        route.path
        for route in app.routes
        if isinstance(route, HTTPRoute)
        and (route.path == OPENAPI_PATH or route.path.startswith(f"{OPENAPI_PATH}/"))
        and "{" not in route.path  # the catch-all that answers 404 for what no plugin renders
        and any(handler.media_type == MediaType.HTML for handler in route.route_handlers)
    )


async def test_every_docs_page_loads_only_from_the_server(app: Litestar, client: httpx.AsyncClient) -> None:
    pages = docs_pages(app)
    assert OPENAPI_PATH in pages
    assets: set[str] = set()
    for page in pages:
        response = await client.get(page)
        assert response.status_code == 200, page
        assert response.headers["content-type"].startswith("text/html")
        parser = References()
        parser.feed(response.text)
        for reference in parser.found:
            address = urlsplit(reference)
            assert not address.scheme, f"{page} fetches {reference}"
            assert not address.netloc, f"{page} fetches {reference}"
            assert reference.startswith(("/static/vendor/", "/static/docs/")), f"{page} fetches {reference}"
        assets.update(parser.found)
        for inline_style in re.findall(r"<style>(.*?)</style>", response.text, re.DOTALL):
            assert "url(" not in inline_style
            assert "@import" not in inline_style

    assert {address.rsplit(".", 1)[1] for address in assets} == {"js", "css", "png"}, "scripts, styles and an icon"
    for address in assets:
        asset = await client.get(address)
        assert asset.status_code == 200, address
        assert asset.headers["content-type"].split(";")[0] in CONTENT_TYPES[f".{address.rsplit('.', 1)[1]}"]
        assert "max-age" in asset.headers["cache-control"]
        if address.endswith(".css"):
            for target in re.findall(r"url\(\s*['\"]?([^'\")]*)", asset.text):
                assert target.startswith("data:"), f"{address} fetches {target}"
            assert "@import" not in asset.text


async def test_the_interactive_page_runs_no_inline_script_and_says_so_in_its_policy(client: httpx.AsyncClient) -> None:
    response = await client.get(OPENAPI_PATH)
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", response.text, re.DOTALL)
    assert scripts
    assert all("src=" in attributes and not body.strip() for attributes, body in scripts)
    policy = response.headers["content-security-policy"]
    assert "script-src 'self';" in policy
    assert "unsafe-inline" not in policy.split("script-src", 1)[1].split(";")[0]
    spec = re.search(r'data-spec="([^"]+)"', response.text)
    assert spec
    document = await client.get(spec.group(1))
    assert "/api/v1/availability" in document.json()["paths"]


async def test_static_files_need_no_token_and_stay_inside_their_folder(client: httpx.AsyncClient) -> None:
    licence = await client.get(f"{SWAGGER_UI}/LICENSE")
    assert licence.status_code == 200
    assert "Apache License" in licence.text
    for outside in ("/static/../vaxbook/settings.py", "/static/%2e%2e/web/__init__.py", "/static/nothing.js"):
        assert (await client.get(outside)).status_code == 404, outside
