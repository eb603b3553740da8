"""Every kind of message in both languages and every medium: plain words, the clinic's own clock, SMS that every
handset shows in at most three parts, the codes whole, and nothing about a person's health beyond what they bring."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from notify.models import Kind, Medium, Outgoing
from notify.templates import render
from notify.text import clip, to_gsm7
from vaxbook.i18n import Language

PUBLIC_URL = "https://vaxbook.cantho.example"
BOOKING_URL = f"{PUBLIC_URL}/bookings/K7Q2-9XPM"
REBOOK_URL = f"{PUBLIC_URL}/availability?service=tetanus-pregnancy"

# GSM 03.38's basic alphabet, all 128 positions but the escape to the extension table
GSM7_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
assert len(GSM7_BASIC) == 127

APPOINTMENT = {
    "person_name": "Nguyễn Thị Ngọc Lan",
    "booking_code": "K7Q2-9XPM",
    "clinic_name": "Trạm Y tế phường An Khánh",
    "clinic_address": "48 Trần Văn Khéo, phường An Khánh, quận Ninh Kiều, Cần Thơ",
    "service_name_vi": "Tiêm vắc xin uốn ván cho phụ nữ mang thai",
    "service_name_en": "Tetanus vaccination in pregnancy",
    "starts_at": "2026-12-01T07:30:00+07:00",
    "booking_url": BOOKING_URL,
}
BRING = [
    {"vi": "Sổ khám thai hoặc giấy xác nhận có thai", "en": "Your antenatal record or a pregnancy certificate"},
    {"vi": "Giấy ra viện (nếu có)", "en": "Your hospital discharge paper (if any)"},
]
BODIES: dict[Kind, dict[str, Any]] = {
    Kind.SIGN_IN_CODE: {"code": "048213", "minutes": 5},
    Kind.BOOKED: APPOINTMENT,
    Kind.CANCELLED: {**APPOINTMENT, "rebook_url": REBOOK_URL},
    Kind.MOVED: {**APPOINTMENT, "moved_from_starts_at": "2026-11-28T14:00:00+07:00"},
    Kind.REMINDER: {**APPOINTMENT, "hours_before": 24, "bring": BRING},
    Kind.STANDBY_OFFER: {
        **{k: v for k, v in APPOINTMENT.items() if k not in ("booking_code", "booking_url")},
        "expires_at": "2026-11-30T10:15:00+07:00",
        "accept_url": f"{PUBLIC_URL}/standby/81/accept",
    },
    Kind.SLOT_CALLED_OFF: {
        **{k: v for k, v in APPOINTMENT.items() if k not in ("clinic_address", "booking_url")},
        "rebook_url": REBOOK_URL,
    },
    Kind.OFFER_CALLED_OFF: {
        **{k: v for k, v in APPOINTMENT.items() if k not in ("booking_code", "clinic_address", "booking_url")},
        "standby_url": f"{PUBLIC_URL}/me/standby/81",
    },
    Kind.NEXT_DOSE_DUE: {
        "person_name": "Trần Minh Khôi",
        "product_name": "ComBE Five – Vắc xin 5 trong 1",
        "product_name_en": "ComBE Five – 5-in-1 vaccine",
        "dose_number": 2,
        "due_from": "2026-12-15",
        "book_url": f"{PUBLIC_URL}/availability?service=dpt-vgb-hib",
    },
    Kind.DRAW_NOT_WON: {
        **{k: v for k, v in APPOINTMENT.items() if k not in ("booking_code", "clinic_address", "booking_url")},
        "waiting": True,
        "why_vi": "",
        "why_en": "",
        "result_url": f"{PUBLIC_URL}/me#draws",
    },
}
LINK_KEY = {
    Kind.BOOKED: "booking_url",
    Kind.CANCELLED: "rebook_url",
    Kind.MOVED: "booking_url",
    Kind.REMINDER: "booking_url",
    Kind.STANDBY_OFFER: "accept_url",
    Kind.SLOT_CALLED_OFF: "rebook_url",
    Kind.OFFER_CALLED_OFF: "standby_url",
    Kind.NEXT_DOSE_DUE: "book_url",
    Kind.DRAW_NOT_WON: "result_url",
}
LANGUAGES: tuple[Language, ...] = ("vi", "en")


def message(kind: Kind, medium: Medium, language: Language, body: dict[str, Any] | None = None) -> Outgoing:
    destination = "lan.nguyen@example.com" if medium is Medium.EMAIL else "+84912345678"
    return Outgoing(
        id=42,
        kind=kind,
        medium=medium,
        destination=destination,
        language=language,
        body=BODIES[kind] if body is None else body,
        attempts=1,
    )


def is_gsm7_basic(text: str) -> bool:
    return all(c in GSM7_BASIC for c in text)


@pytest.mark.parametrize("medium", list(Medium))
@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("kind", list(Kind))
def test_every_kind_renders_in_both_languages_for_every_medium(kind: Kind, language: Language, medium: Medium) -> None:
    rendered = render(message(kind, medium, language), public_url=PUBLIC_URL)
    body = BODIES[kind]

    assert (rendered.id, rendered.kind, rendered.medium) == (42, kind, medium)
    assert rendered.destination == message(kind, medium, language).destination
    assert bool(rendered.subject) is (medium is Medium.EMAIL)
    readable = to_gsm7 if medium is Medium.SMS else str
    for key in ("code", "booking_code", "person_name", "clinic_name", LINK_KEY.get(kind)):
        if key in body:
            assert readable(str(body[key])) in rendered.text, key
    if "starts_at" in body:
        assert ("07:30 thu Ba 01/12/2026" if language == "vi" else "07:30 Tue 1 Dec 2026") in to_gsm7(rendered.text)
    if kind is Kind.NEXT_DOSE_DUE:
        assert ("15/12/2026" if language == "vi" else "15 Dec 2026") in rendered.text
    if kind is Kind.REMINDER:
        for item in BRING:
            assert readable(item[language]) in rendered.text
    other: Language = "en" if language == "vi" else "vi"
    assert rendered.text != render(message(kind, medium, other), public_url=PUBLIC_URL).text

    if medium is Medium.SMS:
        assert is_gsm7_basic(rendered.text)
        assert len(rendered.text) <= 459
    if medium is Medium.ZALO and language == "vi":
        assert "đ" in rendered.text.lower() or "ã" in rendered.text, "Zalo keeps diacritics"
    if medium is Medium.EMAIL:
        assert PUBLIC_URL in rendered.text
        assert "\n" not in rendered.subject


def test_the_reminder_by_sms_in_vietnamese_and_english() -> None:
    vi = render(message(Kind.REMINDER, Medium.SMS, "vi"), public_url=PUBLIC_URL).text
    en = render(message(Kind.REMINDER, Medium.SMS, "en"), public_url=PUBLIC_URL).text
    assert vi == (
        "vaxbook nhac lich hen cua Nguyen Thi Ngoc Lan: Tiem vac xin uon van cho phu nu mang thai, "
        "07:30 thu Ba 01/12/2026, tai Tram Y te phuong An Khanh, 48 Tran Van Kheo, phuong An Khanh, "
        "quan Ninh Kieu, Can Tho. Ma lich hen: K7Q2-9XPM. Mang theo: So kham thai hoac giay xac nhan co thai; "
        "Giay ra vien (neu co). Chi tiet: https://vaxbook.cantho.example/bookings/K7Q2-9XPM"
    )
    assert en == (
        "vaxbook reminder for Nguyen Thi Ngoc Lan: Tetanus vaccination in pregnancy, 07:30 Tue 1 Dec 2026, "
        "at Tram Y te phuong An Khanh, 48 Tran Van Kheo, phuong An Khanh, quan Ninh Kieu, Can Tho. "
        "Booking code: K7Q2-9XPM. Bring: Your antenatal record or a pregnancy certificate; "
        "Your hospital discharge paper (if any). Details: https://vaxbook.cantho.example/bookings/K7Q2-9XPM"
    )


def test_a_draw_not_won_says_what_comes_next_on_the_standby_list_or_why_no_place_was_given() -> None:
    waiting = render(message(Kind.DRAW_NOT_WON, Medium.SMS, "vi"), public_url=PUBLIC_URL).text
    assert waiting == (
        "vaxbook: Nguyen Thi Ngoc Lan chua co cho qua boc tham Tiem vac xin uon van cho phu nu mang thai, "
        "07:30 thu Ba 01/12/2026, tai Tram Y te phuong An Khanh. Da ghi ten vao danh sach cho ngay do: co cho "
        "trong se bao ngay. Ket qua: https://vaxbook.cantho.example/me#draws"
    )
    refused = {
        **BODIES[Kind.DRAW_NOT_WON],
        "waiting": False,
        "why_vi": "Người này đã có lịch hẹn cho dịch vụ này.",
        "why_en": "This person already has a booking for this service.",
    }
    en = render(message(Kind.DRAW_NOT_WON, Medium.EMAIL, "en", refused), public_url=PUBLIC_URL)
    assert en.subject == "Draw result: no seat"
    assert "No seat could be given: This person already has a booking for this service." in en.text
    assert "standby" not in en.text
    vi = render(message(Kind.DRAW_NOT_WON, Medium.ZALO, "vi", refused), public_url=PUBLIC_URL).text
    assert "Không thể xếp chỗ: Người này đã có lịch hẹn cho dịch vụ này." in vi


def test_a_move_to_another_clinic_says_the_clinic_it_was_at() -> None:
    """At the same hour elsewhere, "is now 08:00 (was 08:00)" read as nothing changed: the old place is said."""
    elsewhere = {**BODIES[Kind.MOVED], "moved_from_clinic_name": "Trạm Y tế phường Xuân Khánh"}
    en = render(message(Kind.MOVED, Medium.SMS, "en", elsewhere), public_url=PUBLIC_URL).text
    assert "(was 14:00 Sat 28 Nov 2026 at Tram Y te phuong Xuan Khanh), at Tram Y te phuong An Khanh" in en
    mail = render(message(Kind.MOVED, Medium.EMAIL, "vi", elsewhere), public_url=PUBLIC_URL).text
    assert "Cơ sở cũ: Trạm Y tế phường Xuân Khánh" in mail
    same_place = render(message(Kind.MOVED, Medium.SMS, "en"), public_url=PUBLIC_URL).text
    assert "(was 14:00 Sat 28 Nov 2026)," in same_place, "the same clinic: nothing more said"


def test_the_sign_in_code_by_sms_is_short() -> None:
    vi = render(message(Kind.SIGN_IN_CODE, Medium.SMS, "vi"), public_url=PUBLIC_URL).text
    en = render(message(Kind.SIGN_IN_CODE, Medium.SMS, "en"), public_url=PUBLIC_URL).text
    assert vi == "Ma dang nhap vaxbook: 048213, dung trong 5 phut. Khong chia se ma nay."
    assert en == "vaxbook sign-in code: 048213, valid for 5 minutes. Do not share this code."


def test_a_reminder_with_nothing_to_bring_does_not_ask_for_anything() -> None:
    body = {**BODIES[Kind.REMINDER], "bring": []}
    for medium in Medium:
        for language in LANGUAGES:
            text = render(message(Kind.REMINDER, medium, language, body), public_url=PUBLIC_URL).text
            assert "Mang theo" not in text
            assert "Bring" not in text
            assert "K7Q2-9XPM" in text


def test_an_e_mail_lists_each_thing_to_bring_on_its_own_line() -> None:
    text = render(message(Kind.REMINDER, Medium.EMAIL, "vi"), public_url=PUBLIC_URL).text
    assert "Mang theo:\n- Sổ khám thai hoặc giấy xác nhận có thai\n- Giấy ra viện (nếu có)\n" in text
    assert "Địa chỉ: 48 Trần Văn Khéo, phường An Khánh, quận Ninh Kiều, Cần Thơ" in text


LONG_NAME = "Bệnh viện Phụ sản thành phố Cần Thơ, cơ sở tiêm chủng mở rộng số hai " * 6
LONG_ADDRESS = "106 Cách Mạng Tháng Tám, phường Cái Khế, quận Ninh Kiều, thành phố Cần Thơ " * 6
WITH_A_CLINIC = [kind for kind in Kind if "clinic_name" in BODIES[kind]]


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("kind", WITH_A_CLINIC)
def test_an_sms_with_a_very_long_clinic_loses_the_address_first_then_clips_the_name(
    kind: Kind, language: Language
) -> None:
    body = {**BODIES[kind], "clinic_name": LONG_NAME, "clinic_address": LONG_ADDRESS}
    text = render(message(kind, Medium.SMS, language, body), public_url=PUBLIC_URL).text

    assert len(text) <= 459
    assert is_gsm7_basic(text)
    assert to_gsm7(LONG_ADDRESS[:20]) not in text
    assert to_gsm7(LONG_NAME[:30]) in text, "the clinic's name stays, clipped"
    assert to_gsm7(LONG_NAME) not in text
    assert "..." in text
    assert "...." not in text
    if "booking_code" in body:
        assert "K7Q2-9XPM" in text
    assert body[LINK_KEY[kind]] in text
    assert to_gsm7(body["person_name"]) in text, "short names are left whole"

    zalo = render(message(kind, Medium.ZALO, language, body), public_url=PUBLIC_URL).text
    assert " ".join(LONG_NAME.split()) in zalo, "Zalo is not shortened"


@pytest.mark.parametrize("language", LANGUAGES)
def test_an_sms_with_every_value_very_long_still_fits_with_its_code_and_link(language: Language) -> None:
    body = {
        **BODIES[Kind.REMINDER],
        "person_name": "Tôn Nữ Hoàng Bảo Ngọc Quỳnh " * 10,
        "clinic_name": LONG_NAME,
        "clinic_address": LONG_ADDRESS,
        "service_name_vi": "Tiêm vắc xin phòng bệnh " * 20,
        "service_name_en": "Vaccination against disease " * 20,
        "bring": [{"vi": "Giấy xác nhận " * 20, "en": "A certificate " * 20}] * 4,
    }
    text = render(message(Kind.REMINDER, Medium.SMS, language, body), public_url=PUBLIC_URL).text
    assert len(text) <= 459
    assert is_gsm7_basic(text)
    assert "K7Q2-9XPM" in text
    assert BOOKING_URL in text
    assert ("Mang theo: Giay xac nhan" if language == "vi" else "Bring: A certificate") in text


def test_the_link_goes_only_when_nothing_else_can_and_the_code_never() -> None:
    url = f"{PUBLIC_URL}/bookings/" + "x" * 500
    body = {**BODIES[Kind.BOOKED], "booking_url": url}
    text = render(message(Kind.BOOKED, Medium.SMS, "vi", body), public_url=PUBLIC_URL).text
    assert len(text) <= 459
    assert "K7Q2-9XPM" in text
    assert "https://" not in text
    assert "Tram Y te phuong An Khanh" in text, "the names are whole again once the link is gone"


def test_the_sign_in_code_is_whole_in_every_medium() -> None:
    body = {"code": "907314", "minutes": 10}
    for medium in Medium:
        for language in LANGUAGES:
            rendered = render(message(Kind.SIGN_IN_CODE, medium, language, body), public_url=PUBLIC_URL)
            assert "907314" in rendered.text
            assert "907314" not in rendered.subject, "a subject shows on a locked screen"
            assert ("10 phut" if language == "vi" else "10 minutes") in to_gsm7(rendered.text)


@pytest.mark.parametrize("medium", list(Medium))
@pytest.mark.parametrize("language", LANGUAGES)
def test_times_are_shown_on_the_clinics_own_clock(medium: Medium, language: Language) -> None:
    """A clinic in Tokyo (+09:00): 00:30 there on Tuesday 1 December is 22:30 on Monday in Hồ Chí Minh City."""
    body = {
        **BODIES[Kind.MOVED],
        "starts_at": "2026-12-01T00:30:00+09:00",
        "moved_from_starts_at": "2026-11-28T09:00:00+09:00",
    }
    text = to_gsm7(render(message(Kind.MOVED, medium, language, body), public_url=PUBLIC_URL).text)
    if language == "vi":
        assert "00:30 thu Ba 01/12/2026" in text
        assert "09:00 thu Bay 28/11/2026" in text
    else:
        assert "00:30 Tue 1 Dec 2026" in text
        assert "09:00 Sat 28 Nov 2026" in text
    for elsewhere in ("22:30", "15:30", "07:00", "00:00"):
        assert elsewhere not in text


def test_a_time_without_an_offset_is_refused() -> None:
    body = {**BODIES[Kind.BOOKED], "starts_at": "2026-12-01T07:30:00"}
    with pytest.raises(ValueError, match="offset"):
        render(message(Kind.BOOKED, Medium.SMS, "vi", body), public_url=PUBLIC_URL)


def test_a_body_without_a_documented_key_is_refused_by_name_without_its_values() -> None:
    body = {k: v for k, v in BODIES[Kind.BOOKED].items() if k != "booking_code"}
    with pytest.raises(ValueError, match="booking_code") as refused:
        render(message(Kind.BOOKED, Medium.SMS, "vi", body), public_url=PUBLIC_URL)
    assert "Lan" not in str(refused.value)


LEAKS = re.compile(r"(?<!\d)\d{12}(?!\d)|tu[aầ]n|week|\b33\b|beta|thalass", re.IGNORECASE)
EXTRA = {
    "cccd": "079301001234",
    "pregnancy_weeks": 33,
    "declared": "33 tuần thai, 33 weeks pregnant",
    "chronic_disease": "Beta thalassaemia",
    "person": {"cccd": "079301001234", "weeks": 33},
}


def test_the_leak_check_finds_what_the_extra_keys_carry() -> None:
    assert len(LEAKS.findall(json.dumps(EXTRA, ensure_ascii=False))) >= 5


@pytest.mark.parametrize("medium", list(Medium))
@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("kind", list(Kind))
def test_keys_beyond_the_documented_ones_never_reach_the_message(
    kind: Kind, language: Language, medium: Medium
) -> None:
    rendered = render(message(kind, medium, language, {**BODIES[kind], **EXTRA}), public_url=PUBLIC_URL)
    assert LEAKS.findall(rendered.subject + "\n" + rendered.text) == []
    assert rendered == render(message(kind, medium, language), public_url=PUBLIC_URL)


def test_vietnamese_folds_into_gsm7() -> None:
    assert to_gsm7("Đặng Thị Ánh Nguyệt, Quận Ninh Kiều, Cần Thơ") == "Dang Thi Anh Nguyet, Quan Ninh Kieu, Can Tho"
    letters = "aàáảãạăằắẳẵặâầấẩẫậđeèéẻẽẹêềếểễệiìíỉĩịoòóỏõọôồốổỗộơờớởỡợuùúủũụưừứửữựyỳýỷỹỵ"
    assert to_gsm7(letters) == "a" * 18 + "d" + "e" * 12 + "i" * 6 + "o" * 18 + "u" * 12 + "y" * 6
    assert to_gsm7(letters.upper()) == to_gsm7(letters).upper()
    assert to_gsm7("“Sổ” – [số 2] {a|b} ~ ½ 💉 ＡＢ") == '"So" - (so 2) (a/b) - 1?2 ? AB'
    assert is_gsm7_basic(to_gsm7("".join(chr(c) for c in range(32, 0x2FF))))


def test_clipping_cuts_at_a_word_and_says_so() -> None:
    assert clip("Trạm Y tế phường An Khánh", 40) == "Trạm Y tế phường An Khánh"
    assert clip("Trạm Y tế phường An Khánh", 20) == "Trạm Y tế phường..."
    assert clip("abcdefghijklmnopqrstuvwxyz", 10) == "abcdefg..."


@pytest.mark.parametrize("medium", list(Medium))
def test_a_recall_names_the_vaccine_in_the_readers_language(medium: Medium) -> None:
    readable = to_gsm7 if medium is Medium.SMS else str
    vi = render(message(Kind.NEXT_DOSE_DUE, medium, "vi"), public_url=PUBLIC_URL).text
    en = render(message(Kind.NEXT_DOSE_DUE, medium, "en"), public_url=PUBLIC_URL).text
    assert readable("Vắc xin 5 trong 1") in vi
    assert "5-in-1" not in vi
    assert "5-in-1 vaccine" in en
    assert readable("Vắc xin 5 trong 1") not in en
    # a recall written before products had English names: its body has the registered name only
    older = {k: v for k, v in BODIES[Kind.NEXT_DOSE_DUE].items() if k != "product_name_en"}
    earlier = render(message(Kind.NEXT_DOSE_DUE, medium, "en", older), public_url=PUBLIC_URL)
    assert readable("Vắc xin 5 trong 1") in earlier.text
