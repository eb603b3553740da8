"""The pages in a real Chromium at a cheap phone's width (360 px) and a desk's: a citizen finds a free slot from
the home page, typing a district without accents, in Vietnamese and in English; no console errors, nothing the
Content-Security-Policy refuses, no serious or critical accessibility violation (axe-core), screenshots kept under
var/screenshots/."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, expect

from tests.e2e.pages import DESK, PHONE, SCREENSHOTS, code_sent_to, serious_violations
from tests.e2e.service import Service, served
from web.text import WORDS

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    with served(tmp_path_factory.mktemp("pages") / "var", "--demo") as started:
        yield started


@pytest.mark.parametrize(("language", "size"), [("vi", PHONE), ("en", PHONE), ("vi", DESK)])
def test_a_citizen_finds_a_free_slot_from_the_home_page(
    language: str, size: dict[str, int], browser: Browser, service: Service
) -> None:
    # bypass_csp only so that the test can add axe-core; the pages' own scripts and styles obey the policy
    context = browser.new_context(viewport=size, locale="vi-VN" if language == "vi" else "en-GB", bypass_csp=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        page.goto(f"{service.base}/")
        assert page.locator("html").get_attribute("lang") == language
        assert serious_violations(page) == []
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"home-{language}-{size['width']}.png"))
        page.get_by_role("link", name="Tìm lịch tiêm" if language == "vi" else "Find a slot").click()
        page.get_by_label("Quận, huyện" if language == "vi" else "District").fill("ninh kieu")
        page.get_by_role("button", name="Tìm" if language == "vi" else "Search").click()
        page.wait_for_selector(".slots li")
        # the answer is in sight where the page opens, on a phone too: the results' heading and how many were found
        expect(page.get_by_role("heading", name=WORDS["results"].in_(language))).to_be_in_viewport()
        expect(page.locator("#results + .summary")).to_be_in_viewport(ratio=1)
        expect(page.locator(".slots li").first).to_be_in_viewport()
        results = page.locator(".slots li")
        assert results.count() > 0
        assert "Ninh Kiều" in page.locator(".slots").inner_text()
        # each slot says its seats for everyone: so many left, or none (all held back for groups, which it names)
        seats = [item.inner_text() for item in results.all()]
        left, none = ("Còn ", "Hết chỗ") if language == "vi" else ("seats left", "No seats left")
        assert all(left in text or none in text for text in seats)
        assert any(left in text for text in seats), "the demo has free seats in Ninh Kiều"
        assert page.evaluate("document.documentElement.scrollWidth") <= size["width"], "no sideways scrolling"
        assert serious_violations(page) == []
        page.screenshot(path=str(SCREENSHOTS / f"search-{language}-{size['width']}.png"))
        # the switch to the other language keeps the search
        page.get_by_role("link", name="Switch to English" if language == "vi" else "Chuyển sang tiếng Việt").click()
        assert page.locator("html").get_attribute("lang") == ("en" if language == "vi" else "vi")
        assert page.locator(".slots li").count() == results.count()
    finally:
        context.close()
    assert errors == []


def test_a_citizen_signs_in_with_the_code_on_a_phone(browser: Browser, service: Service) -> None:
    context = browser.new_context(viewport=PHONE, locale="vi-VN", bypass_csp=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    try:
        page.goto(f"{service.base}/")
        page.get_by_role("link", name="Đăng nhập", exact=True).click()
        page.get_by_label("Số điện thoại di động").fill("0912 777 666")
        page.get_by_role("button", name="Gửi mã").click()
        assert serious_violations(page) == []
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "signin-code-vi-360.png"))
        first_code = code_sent_to(service, "0912777666")
        page.get_by_label("Mã 6 số").fill(first_code)
        page.get_by_role("button", name="Xác nhận").click()
        page.wait_for_url(f"{service.base}/me")
        assert page.get_by_role("heading", name="Lịch hẹn của tôi").is_visible()
        assert serious_violations(page) == []
        page.screenshot(path=str(SCREENSHOTS / "me-vi-360.png"))

        # a form sent once the session has ended: told so, and after signing in again, back on the form's page
        page.goto(f"{service.base}/me/profile")
        for label, typed in (
            ("Họ và tên", "Trần Thị Hoa"),
            ("Ngày sinh", "1990-05-20"),
            ("Số CCCD", "092190000123"),
            ("Tỉnh, thành phố", "Cần Thơ"),
            ("Quận, huyện", "Ninh Kiều"),
            ("Phường, xã", "An Hòa"),
        ):
            page.get_by_label(label, exact=True).fill(typed)
        page.get_by_label("Nữ", exact=True).check()
        page.locator('input[name="consent"]').check()
        context.clear_cookies(name="session")
        page.get_by_role("button", name="Lưu").click()
        assert page.get_by_text(WORDS["session_ended_form"].vi).is_visible()
        page.get_by_label("Số điện thoại di động").fill("0912 777 666")
        page.get_by_role("button", name="Gửi mã").click()
        page.get_by_label("Mã 6 số").fill(code_sent_to(service, "0912777666", other_than=first_code))
        page.get_by_role("button", name="Xác nhận").click()
        page.wait_for_url(f"{service.base}/me/profile")
        page.get_by_role("button", name="Đăng xuất").click()
        page.wait_for_url(f"{service.base}/")
        assert page.get_by_role("link", name="Đăng nhập", exact=True).is_visible()
    finally:
        context.close()
    assert errors == []
