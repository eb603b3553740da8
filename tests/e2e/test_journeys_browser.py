"""The journeys end to end in a real Chromium, on the demo as `make run` serves it, in Vietnamese on a phone and in
English at a desk: a citizen signs in, fills in a profile, finds a slot (typed without accents), books it, and gets
the slip with its QR (the API shows the same booking); the nurse at the clinic door signs in and checks that booking
in, with the camera pointed at the printed slip (Chromium's fake camera plays the slip's QR) or from a photo of it.
Every page is checked with axe-core, for console errors, for sideways scrolling and for requests leaving the server,
and screenshotted under var/screenshots/."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Playwright, expect

from tests.e2e.conftest import launch
from tests.e2e.pages import DESK, PHONE, SCREENSHOTS, Visit, camera_video_of, code_sent_to, visit
from tests.e2e.service import Service, served
from tests.e2e.test_serve import demo_passwords
from web.text import WORDS as PAGE_WORDS

pytestmark = pytest.mark.e2e

WORDS = {
    "vi": {
        "sign_in": "Đăng nhập",
        "phone": "Số điện thoại di động",
        "send": "Gửi mã",
        "code": "Mã 6 số",
        "confirm": "Xác nhận",
        "fill": "Điền hồ sơ",
        "name": "Họ và tên",
        "born": "Ngày sinh",
        "female": "Nữ",
        "cccd": "Số CCCD",
        "district": "Quận, huyện",
        "ward": "Phường, xã",
        "agree": "Tôi đồng ý",
        "save": "Lưu",
        "find": "Tìm lịch tiêm",
        "search": "Tìm",
        "book": "Xác nhận đặt lịch",
        "booked": "Đã đặt",
        "username": "Tên đăng nhập",
        "password": "Mật khẩu",
        "camera": "Bật camera",
        "checked_in": "ĐÃ TIẾP ĐÓN",
        "came": "Đã tiếp đón",
        "profile_saved": "Đã lưu hồ sơ của bạn.",
        "visit_done": "Đã khám xong",
        "move": "Đổi lịch",
    },
    "en": {
        "sign_in": "Sign in",
        "phone": "Mobile phone number",
        "send": "Send the code",
        "code": "6-digit code",
        "confirm": "Confirm",
        "fill": "Fill in my profile",
        "name": "Full name",
        "born": "Date of birth",
        "female": "Female",
        "cccd": "Citizen ID (CCCD) number",
        "district": "District",
        "ward": "Ward",
        "agree": "I agree",
        "save": "Save",
        "find": "Find a slot",
        "search": "Search",
        "book": "Confirm the booking",
        "booked": "Booked",
        "username": "Username",
        "password": "Password",
        "camera": "Start the camera",
        "checked_in": "CHECKED IN",
        "came": "Checked in",
        "profile_saved": "Your profile is saved.",
        "visit_done": "Visit done",
        "move": "Move the booking",
    },
}


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    with served(tmp_path_factory.mktemp("journeys") / "var", "--demo") as started:
        yield started


def staff_token(service: Service, username: str) -> dict[str, str]:
    password = demo_passwords(service.data_dir)[username]
    login = httpx.post(f"{service.base}/api/v1/auth/staff/login", json={"username": username, "password": password})
    assert login.status_code == 200, login.text
    return {"Authorization": f"Bearer {login.json()['access_token']}"}


def antenatal_session(service: Service, *, starts_in: timedelta, capacity: int) -> dict[str, Any]:
    """An antenatal session the An Khánh station adds (its clinic and service with it)."""
    clinics = httpx.get(f"{service.base}/api/v1/clinics", params={"ward": "An Khánh"}).json()["items"]
    clinic = next(c for c in clinics if c["code"] == "TYT-ANKHANH")
    antenatal = next(s for s in httpx.get(f"{service.base}/api/v1/services").json() if s["code"] == "antenatal")
    starts = (datetime.now(UTC) + starts_in).replace(second=0, microsecond=0)
    for _ in range(10):  # a demo session may start at that very minute: the next minute free, then
        made = httpx.post(
            f"{service.base}/api/v1/clinics/{clinic['id']}/slots",
            json={
                "service_id": antenatal["id"],
                "starts_at": starts.isoformat(),
                "ends_at": (starts + timedelta(minutes=30)).isoformat(),
                "capacity": capacity,
            },
            headers=staff_token(service, "ankhanh.staff"),
        )
        if made.status_code != 409 or made.json()["type"] != "/problems/slot-exists":
            break
        starts += timedelta(minutes=1)
    assert made.status_code == 201, made.text
    return made.json() | {"clinic": clinic}


@pytest.fixture(scope="module")
def slot_soon(service: Service) -> dict[str, Any]:
    """This afternoon's session: in the check-in window now."""
    return antenatal_session(service, starts_in=timedelta(minutes=20), capacity=10)


@pytest.fixture(scope="module")
def draw_slot(service: Service) -> dict[str, Any]:
    """A session in three days whose seats the department puts to a draw."""
    made = antenatal_session(service, starts_in=timedelta(days=3), capacity=5)
    draw = httpx.put(
        f"{service.base}/api/v1/clinics/{made['clinic']['id']}/slots/{made['id']}/draw",
        json={"closes_at": (datetime.now(UTC) + timedelta(hours=2)).isoformat()},
        headers=staff_token(service, "admin"),
    )
    assert draw.status_code == 200, draw.text
    return made


def cccd(born: str) -> str:
    """A CCCD number that agrees with a woman born in the 1900s (digit 4: 1) in Cần Thơ (092)."""
    return f"0921{born[2:4]}" + "123456"


@pytest.mark.parametrize(("language", "size", "phone"), [("vi", PHONE, "0918 200 301"), ("en", DESK, "0918 200 402")])
def test_a_citizen_books_on_the_pages_and_the_nurse_checks_the_slip_in(
    language: str,
    size: dict[str, int],
    phone: str,
    browser: Browser,
    playwright: Playwright,
    service: Service,
    slot_soon: dict[str, Any],
    tmp_path: Path,
) -> None:
    w = WORDS[language]
    citizen = visit(browser, service, size=size, language=language)
    page = citizen.page
    name = "Nguyễn Thị Lan" if language == "vi" else "Trần Thị Hạnh"
    try:
        page.goto(f"{service.base}/")
        page.get_by_role("link", name=w["sign_in"], exact=True).click()
        page.get_by_label(w["phone"]).fill(phone)
        page.get_by_role("button", name=w["send"]).click()
        page.get_by_label(w["code"]).fill(code_sent_to(service, phone.replace(" ", "")))
        page.get_by_role("button", name=w["confirm"]).click()
        page.wait_for_url(f"{service.base}/me")
        citizen.check(f"journey-me-empty-{language}-{size['width']}")
        page.get_by_role("link", name=w["fill"]).click()
        page.get_by_label(w["name"]).fill(name)
        page.get_by_label(w["born"]).fill("1994-08-12")
        page.get_by_label(w["female"], exact=True).check()
        page.get_by_label(w["cccd"]).fill(cccd("1994") if language == "vi" else cccd("1994")[:-1] + "7")
        page.get_by_label(w["district"]).fill("Ninh Kiều")
        page.get_by_label(w["ward"]).fill("An Khánh")
        page.get_by_label(w["agree"]).check()
        citizen.check(f"journey-profile-{language}-{size['width']}")
        page.get_by_role("button", name=w["save"]).click()
        page.wait_for_url(re.compile(rf"{re.escape(service.base)}/me\?done=profile$"))
        expect(page.get_by_role("status")).to_have_text(w["profile_saved"])  # the form says it did what it was for

        page.get_by_role("link", name=w["find"]).first.click()
        page.get_by_label(w["ward"]).fill("an khanh")
        page.get_by_role("button", name=w["search"], exact=True).click()
        page.locator(f'a[href^="/book/{slot_soon["id"]}?"]').click()
        citizen.check(f"journey-book-{language}-{size['width']}")
        # its way back is to the results it came from
        back = page.get_by_role("link", name=PAGE_WORDS["back_to_search"].in_(language))
        expect(back).to_have_attribute("href", re.compile(r"^/search\?(.*&)?ward=an\+khanh(&.*)?#results$"))
        page.get_by_role("button", name=w["book"]).click()
        page.wait_for_url(f"{service.base}/me/bookings/*")
        slip = page.locator(".slip")
        assert name in slip.inner_text()
        assert w["booked"] in slip.inner_text()
        citizen.check(f"journey-slip-{language}-{size['width']}")
        code = page.locator(".slip .code").inner_text()

        # the API shows the same booking to the same citizen (the page's session is the API's bearer token)
        session = next(c["value"] for c in citizen.context.cookies() if c["name"] == "session")
        mine = httpx.get(f"{service.base}/api/v1/bookings", headers={"Authorization": f"Bearer {session}"}).json()
        assert [(b["code"], b["slot_id"]) for b in mine["items"]] == [(code, slot_soon["id"])]

        page.get_by_role("link", name=w["move"]).click()
        citizen.check(f"journey-move-{language}-{size['width']}")
        page.go_back()

        # the slip as printed: A6, the QR big enough to scan from paper
        page.emulate_media(media="print")
        assert page.locator(".top").is_hidden()
        printed = tmp_path / "printed-qr.png"
        page.locator(".qr svg").screenshot(path=str(printed))
        page.screenshot(path=str(SCREENSHOTS / f"journey-slip-printed-{language}.png"))
        qr_mm = page.evaluate("document.querySelector('.qr svg').getBoundingClientRect().width") * 25.4 / 96
        assert qr_mm >= 50, f"the printed QR is {qr_mm:.0f} mm wide"
        pages = re.findall(rb"/MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", page.pdf(prefer_css_page_size=True))
        sizes_mm = [(round(float(w) * 25.4 / 72), round(float(h) * 25.4 / 72)) for w, h in pages]
        assert sizes_mm == [(105, 148)], f"one A6 sheet (Chromium reads no A6 keyword): {sizes_mm}"
    finally:
        citizen.close()

    if language == "vi":
        # the nurse points the camera at the printed slip: Chromium's fake camera plays its picture
        video = camera_video_of(printed, tmp_path / "slip.y4m")
        camera = launch(
            playwright,
            "--use-fake-ui-for-media-stream",
            "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-video-capture={video}",
        )
        try:
            nurse = visit(camera, service, size=size, language=language, permissions=["camera"])
            door_checks_in(nurse, service, w, code, name, language, by_camera=True)
        finally:
            camera.close()
    else:
        nurse = visit(browser, service, size=size, language=language)
        door_checks_in(nurse, service, w, code, name, language, by_camera=False, photo=printed)


def door_checks_in(
    nurse: Visit,
    service: Service,
    w: dict[str, str],
    code: str,
    name: str,
    language: str,
    *,
    by_camera: bool,
    photo: Path | None = None,
) -> None:
    page = nurse.page
    try:
        page.goto(f"{service.base}/door")
        page.get_by_label(w["username"]).fill("ankhanh.staff")
        page.get_by_label(w["password"]).fill(demo_passwords(service.data_dir)["ankhanh.staff"])
        page.get_by_role("button", name=w["sign_in"], exact=True).click()
        page.wait_for_url(f"{service.base}/door/*")
        assert name in page.locator("#today").inner_text()
        nurse.check(f"door-{language}")
        if by_camera:
            page.get_by_role("button", name=w["camera"]).click()
        else:
            assert photo is not None
            # typed by hand first, with a wrong CCCD: refused, and what was typed stays, to mend one digit
            page.locator("#code").fill(code)
            page.locator("#cccd_last4").fill("0000")
            page.locator("#by-hand-form button[type=submit]").click()
            expect(page.locator('[data-answer="refused"]')).to_be_visible()
            expect(page.locator("#code")).to_have_value(code)
            page.locator("#photo").set_input_files(str(photo))
        answer = page.locator('[data-answer="ok"]')
        answer.wait_for(timeout=30_000)
        assert name in answer.inner_text()
        assert code in answer.inner_text()
        assert w["checked_in"] in answer.inner_text()
        # checked in: the fields typed by hand were this person's, so the next in the queue starts from empty ones
        expect(page.locator("#code")).to_have_value("")
        expect(page.locator("#cccd_last4")).to_have_value("")
        expect(page.locator("#today tr", has_text=name)).to_contain_text(w["came"])  # the list refreshed itself
        nurse.check(f"door-checked-in-{language}-{'camera' if by_camera else 'photo'}")
        page.get_by_role("button", name=w["visit_done"]).click()  # an antenatal check-up: no dose, a visit
        expect(page.locator('[data-answer="done"]')).to_contain_text(name)  # whose visit it was, by name
        nurse.check(f"door-visit-done-{language}")
        if photo is not None:
            # the next photo holds no QR: the last person's answer goes, and the box does not stand as this one's
            blank = photo.with_name(f"no-qr-{language}.png")
            page.screenshot(path=str(blank), clip={"x": 0, "y": 0, "width": 200, "height": 120})
            page.locator("#photo").set_input_files(str(blank))
            unreadable = PAGE_WORDS["no_qr_in_photo"].vi if language == "vi" else PAGE_WORDS["no_qr_in_photo"].en
            expect(page.locator("#scan-status")).to_have_text(unreadable)
            expect(page.locator("#answer")).to_be_empty()
    finally:
        nurse.close()


@pytest.mark.parametrize(("language", "size"), [("vi", DESK), ("en", PHONE)])
def test_the_hotline_registers_a_caller_books_and_reads_out_the_slip(
    language: str, size: dict[str, int], browser: Browser, service: Service
) -> None:
    vi = language == "vi"
    operator = visit(browser, service, size=size, language=language)
    page = operator.page
    name = "Võ Văn Tư" if vi else "Lý Văn Hậu"
    try:
        page.goto(f"{service.base}/staff/signin")
        page.get_by_label("Tên đăng nhập" if vi else "Username").fill("hotline")
        page.get_by_label("Mật khẩu" if vi else "Password").fill(demo_passwords(service.data_dir)["hotline"])
        page.get_by_role("button", name="Đăng nhập" if vi else "Sign in", exact=True).click()
        page.wait_for_url(f"{service.base}/counter")
        operator.check(f"counter-{language}-{size['width']}")
        page.get_by_role("link", name="Đăng ký người mới" if vi else "Register a new person").click()
        page.get_by_label("Họ và tên" if vi else "Full name").fill(name)
        page.get_by_label("Ngày sinh" if vi else "Date of birth").fill("1950-02-03")
        page.get_by_label("Nam" if vi else "Male", exact=True).check()
        page.get_by_label("Quận, huyện" if vi else "District").fill("Ninh Kiều")
        page.get_by_label("Phường, xã" if vi else "Ward").fill("An Khánh")
        page.get_by_label("Đã đọc cho người này nghe" if vi else "I read the consent").check()
        operator.check(f"counter-register-{language}-{size['width']}")
        page.get_by_role("button", name="Lưu" if vi else "Save").click()
        page.wait_for_url(f"{service.base}/counter/people/*")
        assert name in page.locator("h1").inner_text()
        operator.check(f"counter-person-{language}-{size['width']}")
        page.get_by_label("Dịch vụ" if vi else "Service").select_option("covid19")
        page.get_by_label("Quận, huyện" if vi else "District").fill("ninh kieu")
        page.get_by_role("button", name="Tìm" if vi else "Search", exact=True).click()
        # the results in sight where the page opens, how many said first
        expect(page.locator("#results + .summary")).to_be_in_viewport(ratio=1)
        # each slot's button on a line of its own at the start, where the last one's was, whatever the words before it
        offers = page.locator(".slots li form button")
        assert offers.count() > 1
        starts = offers.evaluate_all(
            "buttons => buttons.map(b => b.getBoundingClientRect().left - b.closest('li').getBoundingClientRect().left)"
        )
        assert len(set(starts)) == 1, starts
        assert starts[0] < 20, "at the start of its line, not after the words"
        operator.check(f"counter-slots-{language}-{size['width']}")
        page.get_by_role("button", name="Đặt cho người này" if vi else "Book for them").first.click()
        page.wait_for_url(f"{service.base}/counter/bookings/*")
        slip = page.locator(".slip").inner_text()
        assert name in slip
        code = page.locator(".slip .code").inner_text()
        operator.check(f"counter-slip-{language}-{size['width']}")
        page.get_by_role("link", name=name).click()
        page.get_by_role("link", name="Đổi lịch" if vi else "Move the booking").first.click()
        operator.check(f"counter-move-{language}-{size['width']}")
        page.go_back()
        # cancelled for the caller: the page says so, and where its seat went, in the operator's language
        page.locator("details.confirm summary").first.click()
        page.get_by_role("button", name="Có, hủy lịch hẹn" if vi else "Yes, cancel it").first.click()
        page.wait_for_url(re.compile(r".*/counter/people/[0-9a-f-]{36}\?done=cancelled&of=[0-9a-f-]{36}$"))
        said = page.get_by_role("status")
        expect(said).to_contain_text("Chỗ đã được nhường cho người đang chờ" if vi else "Its seat went to whoever")
        expect(said).to_contain_text(code)
        operator.check(f"counter-cancelled-{language}-{size['width']}")
    finally:
        operator.close()


def test_the_department_reads_its_charts_downloads_a_spreadsheet_and_allocates_doses(
    browser: Browser, service: Service
) -> None:
    officer = visit(browser, service, size=DESK, language="vi", accept_downloads=True)
    page = officer.page
    try:
        page.goto(f"{service.base}/staff/signin")
        page.get_by_label("Tên đăng nhập").fill("admin")
        page.get_by_label("Mật khẩu").fill(demo_passwords(service.data_dir)["admin"])
        page.get_by_role("button", name="Đăng nhập", exact=True).click()
        page.wait_for_url(f"{service.base}/department")
        assert page.locator("svg.chart").count() >= 1
        assert page.get_by_role("img", name="Vắc xin theo cơ sở").is_visible()
        officer.check("department-vi-1280")
        with page.expect_download() as downloaded:
            page.locator('a[href="/department/reports/xlsx/stock"]').click()
        assert downloaded.value.suggested_filename.endswith(".xlsx")
        page.get_by_role("link", name="Nhóm ưu tiên và chỗ giữ").click()
        assert "%" in page.locator("main").inner_text(), "the demo's held-back shares"
        officer.check("department-priority-vi-1280")
        page.goto(f"{service.base}/department")
        page.get_by_role("link", name="Nhập, phân bổ, điều chuyển vắc xin").click()
        form = page.locator("form[action='/department/stock/allocate']")
        form.get_by_label("Số liều").fill("5")
        form.get_by_role("button", name="Phân bổ cho cơ sở").click()
        page.get_by_role("status").get_by_text("Đã phân bổ.").wait_for()
        officer.check("department-stock-vi-1280")
        page.set_viewport_size(PHONE)
        for path in (
            "/department",
            "/department/stock",
            "/department/priority",
            "/department/operations",
            "/department/quality",
            "/department/imports",
        ):
            page.goto(f"{service.base}{path}")
            officer.check(f"department{path.removeprefix('/department').replace('/', '-')}-vi-360")
        # in English too, whose words are longer; what the department holds fits the phone's width outright
        page.goto(f"{service.base}/lang/en?next=/department/stock")
        held = page.locator("table[aria-labelledby='held-title']")
        assert held.evaluate("t => t.parentElement.scrollWidth <= t.parentElement.clientWidth"), "no column hidden"
        officer.check("department-stock-en-360")
    finally:
        officer.close()


@pytest.mark.parametrize(("language", "size", "phone"), [("vi", PHONE, "0918 200 503"), ("en", DESK, "0918 200 604")])
def test_every_page_of_a_citizen_reads_well_on_a_phone_and_at_a_desk(
    language: str, size: dict[str, int], phone: str, browser: Browser, service: Service, draw_slot: dict[str, Any]
) -> None:
    """The citizen's other pages: accessible (axe), no sideways scrolling, no console errors, screenshots."""
    w = WORDS[language]
    citizen = visit(browser, service, size=size, language=language)
    page = citizen.page
    try:
        page.goto(f"{service.base}/signin")
        page.get_by_label(w["phone"]).fill(phone)
        page.get_by_role("button", name=w["send"]).click()
        page.get_by_label(w["code"]).fill(code_sent_to(service, phone.replace(" ", "")))
        page.get_by_role("button", name=w["confirm"]).click()
        page.goto(f"{service.base}/me/profile")
        page.get_by_label(w["name"]).fill("Đặng Thị Thu")
        page.get_by_label(w["born"]).fill("1992-04-21")
        page.get_by_label(w["female"], exact=True).check()
        page.get_by_label(w["cccd"]).fill(cccd("1992")[:-1] + ("5" if language == "vi" else "6"))
        page.get_by_label(w["district"]).fill("Ninh Kiều")
        page.get_by_label(w["ward"]).fill("An Khánh")
        page.get_by_label(w["agree"]).check()
        page.get_by_role("button", name=w["save"]).click()
        page.wait_for_url(re.compile(rf"{re.escape(service.base)}/me\?done=profile$"))
        person = page.locator('a[href$="/record"]').first.get_attribute("href")
        assert person is not None
        base = person.removesuffix("/record")
        for path, name in (
            ("/me/dependents/new", "dependent"),
            (f"{base}/declarations", "declarations"),
            (f"{base}/record", "record"),
            ("/me/data", "my-data"),
            ("/search?service=antenatal&district=ninh+kieu", "search-service"),
        ):
            page.goto(f"{service.base}{path}")
            citizen.check(f"tour-{name}-{language}-{size['width']}")
        # free seats of the service in the district: its standby list is not offered (joining would be refused)
        assert page.locator('a[href*="/me/standby/new"][href*="district="]').count() == 0
        antenatal = next(s for s in httpx.get(f"{service.base}/api/v1/services").json() if s["code"] == "antenatal")
        page.goto(f"{service.base}/me/standby/new?service_id={antenatal['id']}&province=Cần Thơ&district=Ninh Kiều")
        citizen.check(f"tour-standby-join-{language}-{size['width']}")
        page.locator("main button[type=submit]").click()
        # asked for by hand all the same: the list is not for now, and the page says why
        page.get_by_role("alert").wait_for()
        citizen.check(f"tour-standby-refused-{language}-{size['width']}")
        page.goto(f"{service.base}/draw/{draw_slot['id']}")
        citizen.check(f"tour-draw-enter-{language}-{size['width']}")
        page.locator("main button[type=submit]").click()
        # entered: the bookings page says whom, for which session and where
        page.wait_for_url(re.compile(rf"{re.escape(service.base)}/me\?done=draw&of=[0-9a-f-]{{36}}$"))
        expect(page.get_by_role("status")).to_contain_text("Đặng Thị Thu")
        expect(page.get_by_role("status")).to_contain_text(draw_slot["clinic"]["name"])
        citizen.check(f"tour-draw-entered-{language}-{size['width']}")
        # the entry's number, as the bookings page shows it, names it on the result too, marked as hers
        before, after = PAGE_WORDS["draw_entry_number"].in_(language).split("{number}")
        number = re.search(re.escape(before) + r"(\S+)" + re.escape(after), page.locator("main").inner_text())
        assert number, before
        page.locator('a[href^="/draws/"]').first.click()
        expect(page.locator(".draw-entries tr.mine")).to_contain_text(number.group(1))
        # each column's head on one line, at a phone's width too
        # (lines counted by their tops: a line's text may come in more than one box, a fallback font's letters say)
        lines = page.evaluate(
            "[...document.querySelectorAll('.draw-entries th')].map(th => "
            "{ const r = document.createRange(); r.selectNodeContents(th); "
            "return new Set([...r.getClientRects()].map(box => Math.round(box.top))).size; })"
        )
        assert lines == [1, 1, 1], lines
        citizen.check(f"tour-draw-result-{language}-{size['width']}")
    finally:
        citizen.close()
