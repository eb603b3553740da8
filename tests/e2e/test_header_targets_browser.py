"""The links and the sign-out button at the top of every page are a finger tall on a phone (2.75 rem, as every
other button), in both languages, for a citizen and for staff of every role, and the top still fits the screen."""

from __future__ import annotations

from pathlib import Path

import pytest
from jinja2 import Environment, FileSystemLoader
from markupsafe import Markup
from playwright.sync_api import Browser

from tests.e2e.pages import PHONE
from web.text import WORDS

pytestmark = pytest.mark.e2e

PAGES = Path(__file__).resolve().parents[2] / "web"
STYLESHEET = next((PAGES / "static" / "pages").glob("site.v*.css"))

# each tappable thing at the top under 44 px (2.75 rem) tall or wide
TOO_SMALL = """() => [...document.querySelectorAll('header.top a, header.top nav button')].filter(target => {
    const box = target.getBoundingClientRect();
    return box.height < 44 || box.width < 44;
}).map(target => target.textContent.trim() + ' ' + Math.round(target.getBoundingClientRect().height))"""


def top_of_page(language: str, role: str | None) -> str:
    """The layout's top as the pages draw it, for a citizen (`role` None) or staff, with the stylesheet inline."""
    template = Environment(loader=FileSystemLoader(PAGES / "templates"), autoescape=True).get_template("base.html.j2")
    words = {name: text.in_(language) for name, text in WORDS.items()}  # type: ignore[arg-type]
    drawn = template.render(
        lang=language,
        t=words,
        signed_in=role is None,
        staff=role is not None,
        role=role,
        back="/",
        csrf_token=lambda: "token",
        csrf_input=Markup('<input type="hidden" name="_csrf_token" value="token">'),
    )
    link = f'<link rel="stylesheet" href="/static/pages/{STYLESHEET.name}">'
    assert link in drawn, "the layout links the stylesheet the test reads"
    return drawn.replace(link, f"<style>{STYLESHEET.read_text()}</style>")


@pytest.mark.parametrize("language", ["vi", "en"])
@pytest.mark.parametrize("role", [None, "clinic_staff", "operator", "health_admin"])
def test_the_top_s_links_are_a_finger_tall_on_a_phone(language: str, role: str | None, browser: Browser) -> None:
    context = browser.new_context(viewport={"width": PHONE["width"], "height": PHONE["height"]})
    page = context.new_page()
    try:
        page.set_content(top_of_page(language, role))
        assert page.locator("header.top nav a").count() >= 2
        assert page.evaluate(TOO_SMALL) == []
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    finally:
        context.close()
