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
    "sign_in": Text("Đăng nhập", "Sign in"),
    "sign_out": Text("Đăng xuất", "Sign out"),
    "sign_in_title": Text("Đăng nhập bằng số điện thoại", "Sign in with your phone"),
    "phone": Text("Số điện thoại di động", "Mobile phone number"),
    "phone_help": Text(
        "Ví dụ 0912 345 678. Chúng tôi gửi mã 6 số qua tin nhắn.",
        "For example 0912 345 678. We text you a 6-digit code.",
    ),
    "send_code": Text("Gửi mã", "Send the code"),
    "code": Text("Mã 6 số", "6-digit code"),
    "code_sent": Text(
        "Đã gửi mã đến {phone}. Mã dùng được trong {minutes} phút.",
        "A code went to {phone}. It works for {minutes} minutes.",
    ),
    "confirm": Text("Xác nhận", "Confirm"),
    "bad_phone": Text("Số điện thoại di động Việt Nam không hợp lệ", "Not a valid Vietnamese mobile number"),
    "bad_code": Text("Mã không đúng hoặc đã hết hạn", "The code is wrong or has expired"),
    "my_bookings": Text("Lịch hẹn của tôi", "My bookings"),
    "no_bookings": Text("Chưa có lịch hẹn nào.", "No bookings yet."),
    "booking_code": Text("Mã lịch hẹn", "Booking code"),
    "status_booked": Text("Đã đặt", "Booked"),
    "status_checked_in": Text("Đã đến", "Checked in"),
    "status_completed": Text("Đã xong", "Done"),
    "status_cancelled": Text("Đã hủy", "Cancelled"),
    "status_moved": Text("Đã đổi lịch", "Moved"),
    "status_no_show": Text("Không đến", "Did not come"),
}
