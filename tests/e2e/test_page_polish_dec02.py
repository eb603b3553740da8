"""From a walk-through at a phone's width (360 px) and a desk's, in Vietnamese and in English: help said under a
button keeps a paragraph's distance from it ('Chưa nhận được mã?' under Xác nhận on the sign-in code page, 'Sai số,
hoặc chưa nhận được mã?' under the counter's Xác nhận số điện thoại), the first card of the serious reactions keeps
its distance from the paragraph above it, and each way back on a line of its own (the counter slip's 'Back to Võ Văn
Tư's record', the form adding a relative's 'Go back') is a finger tall, as every button. The pages are drawn from their
templates, with the stylesheet inline, in a real Chromium."""

from __future__ import annotations

from datetime import date
from enum import Enum
from pathlib import Path
from typing import Any

import pytest
from jinja2 import Environment, FileSystemLoader
from markupsafe import Markup
from playwright.sync_api import Browser, Page

from tests.e2e.pages import DESK, PHONE
from vaxbook.i18n import Language
from web.view import words

pytestmark = pytest.mark.e2e

PAGES = Path(__file__).resolve().parents[2] / "web"
STYLESHEET = next((PAGES / "static" / "pages").glob("site.v*.css"))
PERSON = "3f1c2a9e-0000-4000-8000-000000000001"
SIZES = [pytest.param(PHONE, id="360"), pytest.param(DESK, id="1280")]
LANGUAGES: list[Language] = ["vi", "en"]
GAP = 8  # px: at least half a line between a button, a box or a paragraph and what follows it (the rules give 12)

# how far below the bottom of the first element the top of the second begins, in CSS pixels
GAP_BETWEEN = """([above, below]) => {
    const [a, b] = [document.querySelector(above), document.querySelector(below)];
    return b.getBoundingClientRect().top - a.getBoundingClientRect().bottom;
}"""


class Sex(Enum):
    MALE = "male"


def drawn(name: str, language: Language, **context: Any) -> str:
    """A page as the app draws it from its template, with the stylesheet inline (no server needed to read a layout)."""
    template = Environment(loader=FileSystemLoader(PAGES / "templates"), autoescape=True).get_template(name)
    page = template.render(
        lang=language,
        t=words(language),
        back="/",
        once="once",
        number=lambda value, digits=1: str(value),
        csrf_token=lambda: "token",
        csrf_input=Markup('<input type="hidden" name="_csrf_token" value="token">'),
        **context,
    )
    link = f'<link rel="stylesheet" href="/static/pages/{STYLESHEET.name}">'
    assert link in page, "the layout links the stylesheet the test reads"
    return page.replace(link, f"<style>{STYLESHEET.read_text()}</style>")


def opened(browser: Browser, size: dict[str, int], page: str) -> Page:
    context = browser.new_context(viewport=size)
    shown = context.new_page()
    shown.set_content(page)
    return shown


def sign_in_code(language: Language) -> str:
    return drawn(
        "public/signin.html.j2",
        language,
        step="code",
        phone="0918 310 001",
        after="/me",
        sent=words(language)["code_sent"].format(phone="0918 310 001", minutes=5),
        signed_in=False,
        staff=False,
    )


def counter_phone_code(language: Language) -> str:
    caller = {
        "id": PERSON,
        "full_name": "Võ Văn Tư",
        "date_of_birth": date(1950, 2, 3),
        "sex": Sex.MALE,
        "ward": "An Khánh",
        "district": "Ninh Kiều",
    }
    phone = {"sent_to": "0918 300 404", "until": "20:39", "wrong": {}, "code": "", "phone": "0918 300 404"}
    return drawn(
        "counter/counter_person.html.j2",
        language,
        caller=caller,
        phone=phone,
        slips=[],
        draws=[],
        services=[],
        asked={"service": "", "district": "", "from": ""},
        slots=None,
        role="operator",
        staff=True,
    )


def serious_reactions(language: Language) -> str:
    row = {
        "name": "Nguyễn Thị Mai",
        "born": "04/03/1994",
        "phone": "+84918300101",
        "phone_shown": "0918 300 101",
        "booker": False,
        "when": "20:32 02/12/2026",
        "clinic": "Trạm Y tế phường An Khánh",
        "vaccine": "Comirnaty (COVID-19 mRNA) CT-08",
        "what": "Sốt cao, khó thở sau tiêm khoảng hai giờ",
        "outcome": "Chuyển viện, nhập viện" if language == "vi" else "Hospitalised",
    }
    return drawn("department/department_reactions.html.j2", language, rows=[row, row], role="health_admin", staff=True)


def counter_slip(language: Language) -> str:
    slip = {
        "id": "3f1c2a9e-0000-4000-8000-000000000002",
        "code": "9BEF-PZH1",
        "person": "Võ Văn Tư",
        "service": "Tiêm vắc xin COVID-19" if language == "vi" else "COVID-19 vaccination",
        "status": "Đã đặt" if language == "vi" else "Booked",
        "when": "20:52 – 21:22 02/12/2026",
        "clinic": "Trạm Y tế phường An Khánh",
        "address": "Phường An Khánh, quận Ninh Kiều, thành phố Cần Thơ",
        "bring": "cccd",
        "evidence": None,
        "changeable": True,
    }
    caller = {"id": PERSON, "full_name": "Võ Văn Tư"}
    return drawn(
        "counter/counter_slip.html.j2", language, slip=slip, caller=caller, dose="1", role="operator", staff=True
    )


def new_relative(language: Language) -> str:
    return drawn(
        "citizen/dependent.html.j2",
        language,
        relative=None,
        relations=[],
        typed={},
        wrong={},
        fixed=(),
        signed_in=True,
        staff=False,
    )


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("language", LANGUAGES)
def test_no_code_yet_is_not_flush_under_the_confirm_button(
    language: Language, size: dict[str, int], browser: Browser
) -> None:
    page = opened(browser, size, sign_in_code(language))
    try:
        said = page.locator("main > p.help")
        assert said.inner_text() == words(language)["no_code_yet"]
        assert page.evaluate(GAP_BETWEEN, ["main form.search button[type=submit]", "main > p.help"]) >= GAP
        # and the buttons under it keep theirs from it
        assert page.evaluate(GAP_BETWEEN, ["main > p.help", "main .actions"]) >= GAP
    finally:
        page.context.close()


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("language", LANGUAGES)
def test_wrong_number_is_not_flush_under_confirm_the_phone(
    language: Language, size: dict[str, int], browser: Browser
) -> None:
    page = opened(browser, size, counter_phone_code(language))
    try:
        said = page.locator("main > p.help")
        assert said.inner_text() == words(language)["phone_send_again"]
        confirm = "main form[action$='/phone/confirmation'] button[type=submit]"
        assert page.evaluate(GAP_BETWEEN, [confirm, "main > p.help"]) >= GAP
    finally:
        page.context.close()


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("language", LANGUAGES)
def test_the_first_reaction_card_keeps_its_distance_from_the_paragraph(
    language: Language, size: dict[str, int], browser: Browser
) -> None:
    page = opened(browser, size, serious_reactions(language))
    try:
        assert page.locator(".slots li").count() == 2
        assert page.evaluate(GAP_BETWEEN, ["main > p.help", ".slots li"]) >= GAP
    finally:
        page.context.close()


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_counter_slip_s_help_keeps_its_distance_from_the_slip(language: Language, browser: Browser) -> None:
    page = opened(browser, PHONE, counter_slip(language))
    try:
        assert page.evaluate(GAP_BETWEEN, ["main .slip", "main > p.help"]) >= GAP
    finally:
        page.context.close()


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_ways_back_are_a_finger_tall_on_a_phone(language: Language, browser: Browser) -> None:
    back = words(language)["back_to_caller"].format(name="Võ Văn Tư")
    for drawn_page, name in ((counter_slip(language), back), (new_relative(language), words(language)["go_back"])):
        page = opened(browser, PHONE, drawn_page)
        try:
            link = page.get_by_role("link", name=name, exact=True)
            box = link.bounding_box()
            assert box is not None
            assert box["height"] >= 44, (name, box)
            assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        finally:
            page.context.close()
