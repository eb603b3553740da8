"""The pages' words, in Vietnamese first and English: one entry a phrase, so that nothing on a page goes
untranslated (a test renders every page in both languages and looks for the keys)."""

from __future__ import annotations

from vaxbook.i18n import Text

WORDS: dict[str, Text] = {
    "site": Text("vaxbook – Đặt lịch tiêm chủng Cần Thơ", "vaxbook – Cần Thơ vaccination booking"),
    "skip": Text("Bỏ qua, đến nội dung chính", "Skip to the main content"),
    "other_language": Text("English", "Tiếng Việt"),
    "other_language_label": Text("Switch to English", "Chuyển sang tiếng Việt"),
    "home": Text("Trang chủ", "Home"),
    "intro": Text(
        "Đặt lịch tiêm chủng và khám sức khỏe tại bệnh viện và trạm y tế phường, xã ở Cần Thơ.",
        "Book vaccinations and health check-ups at hospitals and ward health stations in Cần Thơ.",
    ),
    "who_citizen": Text("Người dân", "Citizens"),
    "who_citizen_text": Text(
        "Tìm lịch trống gần nhà, rồi đặt lịch cho mình hoặc người thân.",
        "Find a free slot near you, then book it for yourself or a relative.",
    ),
    "find_slot": Text("Tìm lịch tiêm", "Find a slot"),
    "who_staff": Text("Tổng đài 1022, quầy tiếp đón, điều dưỡng, Sở Y tế", "Hotline, counters, nurses, the department"),
    "who_staff_text": Text(
        "Nhân viên dùng tài khoản được cấp qua giao diện lập trình (API); tài liệu ở đây:",
        "Staff sign in with the account they were given, through the API; its documentation is here:",
    ),
    "api_docs": Text("Tài liệu API", "API documentation"),
    "search_title": Text("Tìm lịch tiêm còn chỗ", "Find a slot with seats left"),
    "search_help": Text(
        "Gõ quận, huyện hoặc phường, xã, có dấu hay không dấu đều được.",
        "Type a district or ward, with or without accents.",
    ),
    "service": Text("Dịch vụ", "Service"),
    "any_service": Text("Tất cả dịch vụ", "Every service"),
    "district": Text("Quận, huyện", "District"),
    "ward": Text("Phường, xã", "Ward"),
    "from_date": Text("Từ ngày", "From"),
    "search": Text("Tìm", "Search"),
    "results": Text("Kết quả", "Results"),
    "nothing_found": Text(
        "Không còn lịch trống phù hợp. Hãy thử ngày khác hoặc nơi khác.",
        "No free slot matches. Try another day or place.",
    ),
    "seats_left": Text("Còn {n} chỗ", "{n} seats left"),
    "no_seats_for_all": Text("Hết chỗ cho mọi người", "No seats left for everyone"),
    "held_for": Text("Giữ {n} chỗ cho {group}, từ {when}", "{n} seats held for {group}, from {when}"),
    "opens_at": Text("Mở cho mọi người từ {when}", "Opens to everyone at {when}"),
    "by_draw": Text("Chỗ được bốc thăm; đăng ký trước {when}", "Seats go by draw; enter before {when}"),
    "more": Text("Xem thêm", "More"),
    "bad_input": Text("Kiểm tra lại: {fields}", "Please check: {fields}"),
}
