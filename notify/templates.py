"""Each kind of message in Vietnamese and English, fitted to its medium. Pure: no I/O, no clock.

A message says who, what, when, where, the booking code and the link, from the body keys documented on `Kind`
and nothing else: a body's other keys never reach the text.

- SMS: one paragraph folded into GSM-7 (no diacritics) and fitted to three concatenated parts (459 characters).
  Too long, it loses the clinic's address first, then has its names clipped, then loses the link; never a code.
- Zalo: the same paragraph with diacritics, whole.
- E-mail: a subject, then the details one a line.

In a template, `{field}` is a value and a `[bracketed part]` is left out when a field in it is empty (a reminder
with nothing to bring) or has been dropped to fit an SMS.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from notify.models import Kind, Medium, Outgoing, Rendered
from notify.text import SMS_LIMIT, clip, squash, to_gsm7
from vaxbook.i18n import Language, Text

Field = str | tuple[str, ...]  # a tuple is a list of items (what to bring)

ELASTIC = ("person", "service", "clinic", "bring", "product")  # free text that may be clipped to fit an SMS
_SHORTEST = 16  # no clipped value is shorter than this
_DROPPED_IN_TURN = (("address",), ("address", "link"))

_OPTIONAL = re.compile(r"\[([^\[\]]*)\]")
_NAME = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True)
class Wording:
    short: Text  # SMS and Zalo
    subject: Text
    headline: Text  # e-mail: the first line after the greeting
    details: tuple[str, ...]  # e-mail: the fields listed one a line, with their labels
    closing: Text  # e-mail: after the details


LABELS = {
    "person": Text("Họ tên", "Name"),
    "service": Text("Dịch vụ", "Service"),
    "when": Text("Thời gian", "Time"),
    "was": Text("Thời gian cũ", "Previous time"),
    "was_clinic": Text("Cơ sở cũ", "Previous clinic"),
    "clinic": Text("Cơ sở y tế", "Clinic"),
    "address": Text("Địa chỉ", "Address"),
    "code": Text("Mã lịch hẹn", "Booking code"),
    "bring": Text("Mang theo", "Bring"),
}

_BOOKING_DETAILS = ("service", "when", "clinic", "address", "code")
_SEE_BOOKING = Text("Xem, đổi hoặc hủy lịch hẹn: {link}", "View, move or cancel the booking: {link}")

# A one-time code confirming a phone that staff typed for someone: its owner reads it back to them. It says no name
# (the phone may be a stranger's, mistyped) and signs nobody in.
PHONE_CODE = Wording(
    short=Text(
        "Mã xác nhận số điện thoại vaxbook: {code}, dùng trong {duration}. Chỉ đọc mã này cho nhân viên y tế đang "
        "đăng ký cho bạn tại quầy hoặc qua tổng đài. Nếu không ai đang đăng ký cho bạn, hãy bỏ qua tin này.",
        "vaxbook phone confirmation code: {code}, valid for {duration}. Read it only to the health staff registering "
        "you at a counter or on the hotline. If nobody is registering you, ignore this message.",
    ),
    subject=Text("Mã xác nhận số điện thoại vaxbook", "Your vaxbook phone confirmation code"),
    headline=Text(
        "Mã xác nhận số điện thoại vaxbook là {code}, dùng trong {duration}.",
        "Your vaxbook phone confirmation code is {code}, valid for {duration}.",
    ),
    details=(),
    closing=Text(
        "Chỉ đọc mã này cho nhân viên y tế đang đăng ký cho bạn. Nếu không ai đang đăng ký cho bạn, hãy bỏ qua.",
        "Read this code only to the health staff registering you. If nobody is registering you, ignore it.",
    ),
)

WORDING: dict[Kind, Wording] = {
    Kind.SIGN_IN_CODE: Wording(
        short=Text(
            "Mã đăng nhập vaxbook: {code}, dùng trong {duration}. Không chia sẻ mã này.",
            "vaxbook sign-in code: {code}, valid for {duration}. Do not share this code.",
        ),
        subject=Text("Mã đăng nhập vaxbook", "Your vaxbook sign-in code"),
        headline=Text(
            "Mã đăng nhập vaxbook của bạn là {code}, dùng trong {duration}.",
            "Your vaxbook sign-in code is {code}, valid for {duration}.",
        ),
        details=(),
        closing=Text(
            "Không chia sẻ mã này với ai, kể cả người xưng là nhân viên y tế. "
            "Nếu bạn không yêu cầu đăng nhập, hãy bỏ qua thư này.",
            "Do not share this code with anyone, even someone who says they are health staff. "
            "If you did not ask to sign in, ignore this e-mail.",
        ),
    ),
    Kind.BOOKED: Wording(
        short=Text(
            "vaxbook: Đã đặt lịch cho {person}: {service}, {when}, tại {clinic}[, {address}]. "
            "Mã lịch hẹn: {code}.[ Xem, đổi hoặc hủy lịch: {link}]",
            "vaxbook: {person} is booked for {service}, {when}, at {clinic}[, {address}]. "
            "Booking code: {code}.[ View, move or cancel: {link}]",
        ),
        subject=Text("Đã đặt lịch hẹn {code}", "Booking {code} confirmed"),
        headline=Text("Đã đặt lịch cho {person}.", "{person} is booked."),
        details=_BOOKING_DETAILS,
        closing=_SEE_BOOKING,
    ),
    Kind.CANCELLED: Wording(
        short=Text(
            "vaxbook: Đã hủy lịch hẹn {code} của {person}: {service}, {when}, tại {clinic}.[ Đặt lịch mới: {link}]",
            "vaxbook: Booking {code} for {person} is cancelled: {service}, {when}, at {clinic}.[ Book again: {link}]",
        ),
        subject=Text("Đã hủy lịch hẹn {code}", "Booking {code} cancelled"),
        headline=Text("Đã hủy lịch hẹn {code} của {person}.", "Booking {code} for {person} is cancelled."),
        details=("service", "when", "clinic"),
        closing=Text("Đặt lịch mới: {link}", "Book again: {link}"),
    ),
    Kind.MOVED: Wording(
        short=Text(
            "vaxbook: Đã đổi lịch hẹn {code} của {person}: {service} nay vào {when} "
            "(thay cho {was}[ tại {was_clinic}]), tại {clinic}[, {address}].[ Chi tiết: {link}]",
            "vaxbook: Booking {code} for {person} has moved: {service} is now {when} (was {was}[ at {was_clinic}]), "
            "at {clinic}[, {address}].[ Details: {link}]",
        ),
        subject=Text("Đã đổi lịch hẹn {code}", "Booking {code} moved"),
        headline=Text(
            "Đã đổi lịch hẹn {code} của {person} sang thời gian mới.",
            "Booking {code} for {person} has moved to a new time.",
        ),
        details=("service", "when", "was", "was_clinic", "clinic", "address"),
        closing=_SEE_BOOKING,
    ),
    Kind.REMINDER: Wording(
        short=Text(
            "vaxbook nhắc lịch hẹn của {person}: {service}, {when}, tại {clinic}[, {address}]. "
            "Mã lịch hẹn: {code}.[ Mang theo: {bring}.][ Chi tiết: {link}]",
            "vaxbook reminder for {person}: {service}, {when}, at {clinic}[, {address}]. "
            "Booking code: {code}.[ Bring: {bring}.][ Details: {link}]",
        ),
        subject=Text("Nhắc lịch hẹn {code}: {when}", "Reminder: booking {code}, {when}"),
        headline=Text("Nhắc lịch hẹn của {person}.", "A reminder of {person}'s booking."),
        details=(*_BOOKING_DETAILS, "bring"),
        closing=_SEE_BOOKING,
    ),
    Kind.STANDBY_OFFER: Wording(
        short=Text(
            "vaxbook: Có chỗ trống cho {person}: {service}, {when}, tại {clinic}[, {address}]. "
            "Chỗ được giữ đến {until}.[ Nhận chỗ: {link}]",
            "vaxbook: A seat is free for {person}: {service}, {when}, at {clinic}[, {address}]. "
            "It is held until {until}.[ Take it: {link}]",
        ),
        subject=Text("Có chỗ trống, giữ đến {until}", "A seat is free, held until {until}"),
        headline=Text(
            "Có một chỗ trống cho {person}, được giữ đến {until}.", "A seat is free for {person}, held until {until}."
        ),
        details=("service", "when", "clinic", "address"),
        closing=Text(
            "Nhận chỗ: {link}\nNếu không nhận trước {until}, chỗ sẽ dành cho người chờ tiếp theo.",
            "Take it: {link}\nIf you do not take it by {until}, it goes to the next person waiting.",
        ),
    ),
    Kind.SLOT_CALLED_OFF: Wording(
        short=Text(
            "vaxbook: Xin lỗi, buổi hẹn {when} tại {clinic} ({service}) đã bị hủy. "
            "Lịch hẹn {code} của {person} không còn hiệu lực.[ Đặt lịch khác: {link}]",
            "vaxbook: Sorry, the session of {when} at {clinic} ({service}) is called off. "
            "Booking {code} for {person} no longer stands.[ Book another time: {link}]",
        ),
        subject=Text("Xin lỗi: lịch hẹn {code} bị hủy", "Sorry: booking {code} is called off"),
        headline=Text(
            "Xin lỗi, buổi hẹn dưới đây đã bị hủy nên lịch hẹn {code} của {person} không còn hiệu lực.",
            "Sorry, the session below is called off, so booking {code} for {person} no longer stands.",
        ),
        details=("service", "when", "clinic"),
        closing=Text("Đặt lịch khác: {link}", "Book another time: {link}"),
    ),
    Kind.OFFER_CALLED_OFF: Wording(
        short=Text(
            "vaxbook: Xin lỗi, buổi {service} {when} tại {clinic} đã bị hủy nên chỗ giữ cho {person} không còn. "
            "Vẫn giữ vị trí trong danh sách chờ: có chỗ khác sẽ báo ngay.[ Xem: {link}]",
            "vaxbook: Sorry, the session of {service} {when} at {clinic} is called off, so the seat held for {person} "
            "is gone. Still in place on the standby list: we write at once when another seat frees.[ See: {link}]",
        ),
        subject=Text("Xin lỗi: buổi hẹn đã bị hủy, chỗ giữ không còn", "Sorry: the session is off, the seat is gone"),
        headline=Text(
            "Xin lỗi, buổi hẹn dưới đây đã bị hủy nên chỗ giữ cho {person} không còn. {person} vẫn giữ vị trí trong "
            "danh sách chờ: có chỗ khác sẽ báo ngay.",
            "Sorry, the session below is called off, so the seat held for {person} is gone. {person} keeps their "
            "place on the standby list: we write at once when another seat frees.",
        ),
        details=("service", "when", "clinic"),
        closing=Text("Danh sách chờ của bạn: {link}", "Your place on the standby list: {link}"),
    ),
    Kind.NEXT_DOSE_DUE: Wording(
        short=Text(
            "vaxbook: {person} có thể tiêm mũi {dose} {product} từ ngày {due}.[ Đặt lịch: {link}]",
            "vaxbook: {person} can have dose {dose} of {product} from {due}.[ Book: {link}]",
        ),
        subject=Text("Đến hạn tiêm mũi {dose}", "Dose {dose} is due"),
        headline=Text(
            "{person} có thể tiêm mũi {dose} {product} từ ngày {due}.",
            "{person} can have dose {dose} of {product} from {due}.",
        ),
        details=(),
        closing=Text("Đặt lịch: {link}", "Book a seat: {link}"),
    ),
    Kind.DRAW_NOT_WON: Wording(
        short=Text(
            "vaxbook: {person} chưa có chỗ qua bốc thăm {service}, {when}, tại {clinic}. {next}[ Kết quả: {link}]",
            "vaxbook: {person} got no seat in the draw for {service}, {when}, at {clinic}. {next}[ Result: {link}]",
        ),
        subject=Text("Kết quả bốc thăm: chưa có chỗ", "Draw result: no seat"),
        headline=Text(
            "{person} chưa có chỗ qua bốc thăm dưới đây. {next}",
            "{person} got no seat in the draw below. {next}",
        ),
        details=("service", "when", "clinic"),
        closing=Text("Kết quả bốc thăm và lịch hẹn của bạn: {link}", "The draw's result and your bookings: {link}"),
    ),
}

_WAITING = Text(
    "Đã ghi tên vào danh sách chờ ngày đó: có chỗ trống sẽ báo ngay.",
    "On the standby list for that day: we write at once when a seat frees.",
)
_NOT_PLACED = Text("Không thể xếp chỗ: {why}.", "No seat could be given: {why}.")

_GREETING = Text("Xin chào,", "Hello,")
_FOOTER = Text(
    "Thư gửi tự động từ vaxbook ({url}); xin đừng trả lời thư này.",
    "An automatic message from vaxbook ({url}); please do not reply.",
)

_WEEKDAYS = (
    Text("thứ Hai", "Mon"),
    Text("thứ Ba", "Tue"),
    Text("thứ Tư", "Wed"),
    Text("thứ Năm", "Thu"),
    Text("thứ Sáu", "Fri"),
    Text("thứ Bảy", "Sat"),
    Text("Chủ nhật", "Sun"),
)
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def render(message: Outgoing, *, public_url: str) -> Rendered:
    """The message's text in its language, fitted to its medium. A body without a documented key is a ValueError."""
    wording = WORDING[message.kind]
    if message.kind is Kind.SIGN_IN_CODE and message.body.get("purpose") == "confirm_phone":
        wording = PHONE_CODE
    language = message.language
    fields = _fields(message.kind, message.body, language)
    values = _joined(fields)
    subject = ""
    if message.medium is Medium.EMAIL:
        subject = _fill(wording.subject.in_(language), values)
        text = _email(wording, fields, language, public_url)
    elif message.medium is Medium.SMS:
        text = _fit_sms(wording.short.in_(language), values)
    else:
        text = _fill(wording.short.in_(language), values)
    return Rendered(
        id=message.id,
        kind=message.kind,
        medium=message.medium,
        destination=message.destination,
        subject=subject,
        text=text,
    )


def moment(iso: str, language: Language) -> str:
    """An instant as the clock on the clinic's wall shows it: "07:30 thứ Ba 01/12/2026", "07:30 Tue 1 Dec 2026".

    The body's ISO string carries the clinic's offset, so the time is shown in it, never converted.
    """
    at = datetime.fromisoformat(iso)
    if at.utcoffset() is None:
        raise ValueError("a time in a message body must carry the clinic's offset")
    return f"{at:%H:%M} {_WEEKDAYS[at.weekday()].in_(language)} {day(at.date(), language)}"


def day(on: date, language: Language) -> str:
    return f"{on:%d/%m/%Y}" if language == "vi" else f"{on.day} {_MONTHS[on.month - 1]} {on.year}"


def _fields(kind: Kind, body: Mapping[str, Any], language: Language) -> dict[str, Field]:
    """The values a kind's wording uses, read from its documented body keys only."""

    def text(key: str) -> str:
        return squash(str(_get(body, key)))

    if kind is Kind.SIGN_IN_CODE:
        minutes = int(_get(body, "minutes"))
        plural = "" if minutes == 1 else "s"
        duration = f"{minutes} phút" if language == "vi" else f"{minutes} minute{plural}"
        return {"code": text("code"), "duration": duration}
    if kind is Kind.NEXT_DOSE_DUE:
        return {
            "person": text("person_name"),
            # a body written before English names were kept has only the registered name
            "product": text("product_name_en" if language == "en" and "product_name_en" in body else "product_name"),
            "dose": str(int(_get(body, "dose_number"))),
            "due": day(date.fromisoformat(text("due_from")), language),
            "link": text("book_url"),
        }
    fields: dict[str, Field] = {
        "person": text("person_name"),
        "service": text(f"service_name_{language}"),
        "when": moment(text("starts_at"), language),
        "clinic": text("clinic_name"),
    }
    if kind is Kind.DRAW_NOT_WON:
        why = text(f"why_{language}").rstrip(".")
        fields["next"] = _WAITING.in_(language) if _get(body, "waiting") else _NOT_PLACED.in_(language).format(why=why)
        fields["link"] = text("result_url")
        return fields
    if kind is Kind.OFFER_CALLED_OFF:  # no booking, no address to go to
        fields["link"] = text("standby_url")
        return fields
    if kind is not Kind.STANDBY_OFFER:
        fields["code"] = text("booking_code")
    if kind is not Kind.SLOT_CALLED_OFF:
        fields["address"] = text("clinic_address")
    if kind in (Kind.BOOKED, Kind.MOVED, Kind.REMINDER):
        fields["link"] = text("booking_url")
    if kind in (Kind.CANCELLED, Kind.SLOT_CALLED_OFF):
        fields["link"] = text("rebook_url")
    if kind is Kind.MOVED:
        fields["was"] = moment(text("moved_from_starts_at"), language)
        # the clinic it was at, when it moved to another (written since 2026-12; older bodies have none)
        fields["was_clinic"] = squash(str(body.get("moved_from_clinic_name", "")))
    if kind is Kind.REMINDER:
        # hours_before is not shown: a reminder held back by quiet hours would tell a wrong count; the time is exact
        items = (squash(str(item[language])).rstrip(".") for item in _get(body, "bring"))
        fields["bring"] = tuple(item for item in items if item)
    if kind is Kind.STANDBY_OFFER:
        fields["link"] = text("accept_url")
        fields["until"] = moment(text("expires_at"), language)
    return fields


def _get(body: Mapping[str, Any], key: str) -> Any:
    try:
        return body[key]
    except KeyError:
        raise ValueError(f"the message body has no {key!r}") from None


def _joined(fields: Mapping[str, Field]) -> dict[str, str]:
    return {name: "; ".join(value) if isinstance(value, tuple) else value for name, value in fields.items()}


def _fill(template: str, values: Mapping[str, str]) -> str:
    def optional(part: re.Match[str]) -> str:
        inner = part.group(1)
        return inner if all(values.get(name) for name in _NAME.findall(inner)) else ""

    return _OPTIONAL.sub(optional, template).format_map(values)


def _fit_sms(template: str, values: dict[str, str]) -> str:
    def sms(dropped: tuple[str, ...] = (), cap: int | None = None) -> str:
        fitted = {
            name: "" if name in dropped else clip(value, cap) if cap and name in ELASTIC else value
            for name, value in values.items()
        }
        return to_gsm7(_fill(template, fitted)).replace("....", "...")  # a clipped value before a full stop

    text = sms()
    if len(text) <= SMS_LIMIT:
        return text
    longest = max([_SHORTEST, *(len(values[name]) for name in ELASTIC if name in values)])
    for dropped in _DROPPED_IN_TURN:
        if len(sms(dropped, _SHORTEST)) > SMS_LIMIT:
            continue
        shortest, tallest = _SHORTEST, longest  # the largest cap that fits; `longest` clips nothing
        while shortest < tallest:
            cap = (shortest + tallest + 1) // 2
            shortest, tallest = (cap, tallest) if len(sms(dropped, cap)) <= SMS_LIMIT else (shortest, cap - 1)
        return sms(dropped, shortest)
    raise ValueError(f"the message does not fit in {SMS_LIMIT} SMS characters even without its address and link")


def _email(wording: Wording, fields: Mapping[str, Field], language: Language, public_url: str) -> str:
    values = _joined(fields)
    details = []
    for name in wording.details:
        value = fields.get(name)
        if not value:
            continue
        label = LABELS[name].in_(language)
        if isinstance(value, tuple):
            details.append("\n".join([f"{label}:", *(f"- {item}" for item in value)]))
        else:
            details.append(f"{label}: {value}")
    blocks = [
        _GREETING.in_(language),
        _fill(wording.headline.in_(language), values),
        "\n".join(details),
        _fill(wording.closing.in_(language), values),
        "--\n" + _FOOTER.in_(language).format(url=public_url),
    ]
    return "\n\n".join(block for block in blocks if block) + "\n"
