"""Input building blocks shared by every domain's schemas."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from datetime import date, datetime, time
from functools import cache
from types import UnionType
from typing import Annotated, Any, ClassVar, Literal, Self, TypeVar, Union, get_args, get_origin
from uuid import UUID
from zoneinfo import ZoneInfo, available_timezones

import phonenumbers
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError


def bilingual_error(code: str, vi: str, en: str) -> PydanticCustomError:
    """A validation error whose Vietnamese wording travels with it (see vaxbook.problems)."""
    return PydanticCustomError(f"vaxbook.{code}", en, {"vi": vi})


def errors_on(model: str, errors: dict[str, tuple[PydanticCustomError, object]]) -> ValidationError:
    """A check across fields that names the fields to mend ({field: (error, what was sent)}), raised from a model
    validator: pydantic keeps each error's place, so a form marks those boxes and an API client reads their names."""
    return ValidationError.from_exception_data(
        model, [InitErrorDetails(type=error, loc=(field,), input=sent) for field, (error, sent) in errors.items()]
    )


def refused_before(info: ValidationInfo, *names: str) -> bool:
    """Whether one of these earlier fields was refused (pydantic leaves a refused field out of `info.data`): a check
    across them then says nothing, as it would be false (that field was sent); the field's own error is the one."""
    return any(name not in info.data for name in names)


class InputModel(BaseModel):
    """Base of every request body: unknown fields are refused, strings are trimmed, and a value must have the JSON
    type its field has (no "10" for 10, no 1 for true, no number for a date)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)

    @field_validator("*", mode="before")
    @classmethod
    def _json_type(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, str):
            _check_characters(value)
        choices = _literal_choices(cls).get(info.field_name or "")
        if choices is not None and value is not None and not any(_same(value, c) for c in choices):
            # pydantic's lax mode takes 1 and 1.0 for true: a consent or an erasure is said with true itself
            raise PydanticCustomError("literal_error", "Input should be {expected}", {"expected": _python(choices)})
        kind = _scalar_kinds(cls).get(info.field_name or "")
        if kind is None or value is None:
            return value
        if not _is_json(kind, value):
            raise PydanticCustomError(*_WRONG_TYPE[kind])  # pydantic's own codes: vaxbook.problems words them
        if kind in _SPELLED_OUT and _numeric_text(value):
            raise bilingual_error(*_SPELLED_OUT[kind])
        if kind is date and isinstance(value, str) and not _DAY.fullmatch(value.strip()):
            raise bilingual_error("date_format", NOT_A_DATE_VI, NOT_A_DATE_EN)
        return value


# A scalar field's JSON type: numbers and booleans as themselves, dates, times and ids as strings (pydantic on its
# own would take "10" for 10, 1 for true, and a number of seconds for a date).
_WRONG_TYPE: dict[type, tuple[str, str]] = {
    bool: ("bool_type", "Input should be a valid boolean"),
    int: ("int_type", "Input should be a valid integer"),
    float: ("float_type", "Input should be a valid number"),
    date: ("date_type", "Input should be a valid date"),
    datetime: ("datetime_type", "Input should be a valid datetime"),
    time: ("time_type", "Input should be a valid time"),
    UUID: ("uuid_type", "UUID input should be a string"),
}
_SAME_AS = {AwareDatetime: datetime}  # pydantic's constrained spellings of a scalar


_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")  # a body's date is the day alone: no time, however midnight
# C0 and C1 controls but tab and line breaks, and the bidirectional embeddings, overrides and isolates (a name that
# reads backwards on the door's list)
_HIDDEN_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_INVISIBLE = frozenset({"Cc", "Cf", "Mn", "Me", "Zs", "Zl", "Zp"})
# letters and symbols drawn as nothing: the Hangul fillers and the blank Braille pattern, which a name made to look
# empty is typed with (they are neither spaces nor format characters to Unicode)
_DRAWN_AS_NOTHING = frozenset("\u115f\u1160\u3164\uffa0\u2800")


def _shows_nothing(value: str) -> bool:
    return all(c in _DRAWN_AS_NOTHING or unicodedata.category(c) in _INVISIBLE for c in value)


def _no_nul(value: str) -> None:
    """PostgreSQL text cannot hold NUL: refused here rather than fail in the database."""
    if "\x00" in value:
        raise bilingual_error("nul_character", "Không được chứa ký tự NUL", "Must not contain a NUL character")


def _check_characters(value: str) -> None:
    """A string of a body holds no control character (but tab and line breaks) nor bidirectional override, and is
    not made of invisible characters alone (a name of a zero-width space, a lone accent)."""
    _no_nul(value)
    if _HIDDEN_CONTROL.search(value):
        raise bilingual_error(
            "control_character", "Không được chứa ký tự điều khiển", "Must not contain control characters"
        )
    if "\ufffd" in value:  # what a decoder writes for bytes it could not read: the text was garbled on its way
        raise bilingual_error(
            "replacement_character",
            "Có ký tự bị lỗi mã hóa (�): hãy gõ lại",
            "Holds a character garbled on its way (�): type it again",
        )
    if value and _shows_nothing(value) and value.strip():
        raise bilingual_error("invisible", "Phải có chữ nhìn thấy được", "Must contain visible text")


def _same(value: Any, choice: Any) -> bool:
    return type(value) is type(choice) and value == choice


def _python(choices: tuple[Any, ...]) -> str:
    """Choices as pydantic says them ("'a', 'b' or True"), which vaxbook.problems writes as JSON."""
    said = [repr(c) for c in choices]
    return said[0] if len(said) == 1 else f"{', '.join(said[:-1])} or {said[-1]}"


@cache
def _literal_choices(model: type[BaseModel]) -> dict[str, tuple[Any, ...]]:
    """Each field of `model` whose type (or optional type) is a Literal of booleans (`Literal[True]`), with its
    choices: pydantic's lax mode would take 1 for true there; other literals it checks strictly enough itself."""
    found = {}
    for name, info in model.model_fields.items():
        annotation = info.annotation
        choices = get_args(annotation) if get_origin(annotation) in (Union, UnionType) else (annotation,)
        literals = [c for c in choices if get_origin(c) is Literal]
        if len(literals) == 1 and all(isinstance(c, bool) for c in get_args(literals[0])):
            found[name] = get_args(literals[0])
    return found


def _numeric_text(value: Any) -> bool:
    """A string that is a number: pydantic would read "1830297600" as seconds since 1970 for a date or an instant."""
    return isinstance(value, str) and value.strip().lstrip("+-").replace(".", "", 1).isdigit()


def _is_json(kind: type, value: Any) -> bool:
    if kind is bool:
        return isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    return isinstance(value, str | kind)  # an object of the type itself when code builds the model


@cache
def _scalar_kinds(model: type[BaseModel]) -> dict[str, type]:
    """Each field of `model` whose type (or optional type) is one of the strict scalars, with that type."""
    kinds = {}
    for name, info in model.model_fields.items():
        annotation = info.annotation
        choices = get_args(annotation) if get_origin(annotation) in (Union, UnionType) else (annotation,)
        # a constraint inside an optional type stays Annotated there: Annotated[int, Field(ge=0)] | None
        types = {get_args(c)[0] if get_origin(c) is Annotated else c for c in choices if c is not type(None)}
        if len(types) == 1:
            kind = types.pop()
            kind = _SAME_AS.get(kind, kind)
            if kind in _WRONG_TYPE:
                kinds[name] = kind
    return kinds


class PatchModel(InputModel):
    """Base of PATCH bodies: a field left out stays as it is; null clears a field only where `clearable` says so."""

    clearable: ClassVar[frozenset[str]] = frozenset()

    @field_validator("*", mode="before")
    @classmethod
    def _null_only_where_clearable(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None and info.field_name not in cls.clearable:
            raise bilingual_error("not_null", "Trường này không được để trống", "This field cannot be null")
        return value


class OutputModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class ZonedModel(OutputModel):
    """An answer whose instants belong to one place (a clinic, or the department): every instant in it is shown
    in that place's time zone, whatever zone it was given in. The one rule for times in answers: a model with an
    instant derives from this one (a test walks every answer's model to keep it so)."""

    timezone: str = Field(description="The IANA time zone of the place these times belong to; each carries its offset")

    @model_validator(mode="after")
    def _in_its_zone(self) -> Self:
        zone = ZoneInfo(self.timezone)
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, datetime):
                setattr(self, name, value.astimezone(zone))
        return self


PHONE_MIN_LENGTH, PHONE_MAX_LENGTH = 9, 40  # 912345678 … tel:(+84) 0912 - 345 - 678, as people write it
# Digits (full-width ones too) and what people put between them. Nothing else: the parser would read letters as a
# keypad's digits (0912abc345 as 0912222345, an O typed for a 0 as a 6) and drop an extension, so a slip of the
# keyboard would send a code to a stranger's phone or find someone else.
_PHONE_SPELLING = re.compile(r"^(tel:)?[0-9+\s().\-/]+$", re.IGNORECASE)


def _as_typed(value: str) -> str:
    """A phone as its digits and separators: full-width forms folded (NFKC), any dash (en dash, minus sign, the
    hyphen a phone keyboard's smart punctuation types) as "-", and the format characters a paste brings along
    (zero-width spaces, a left-to-right mark, a byte-order mark, a soft hyphen) dropped."""
    folded = unicodedata.normalize("NFKC", value)
    return "".join(
        "-" if unicodedata.category(c) == "Pd" or c == "\u2212" else c
        for c in folded
        if unicodedata.category(c) != "Cf"
    )


def _vietnamese_mobile(value: str) -> str:
    typed = _as_typed(value)
    try:
        # the bounds the API description states (vaxbook.openapi), refused with the phone's own message
        spelled = PHONE_MIN_LENGTH <= len(value) <= PHONE_MAX_LENGTH and _PHONE_SPELLING.match(typed)
        number = phonenumbers.parse(typed, "VN") if spelled else None
    except phonenumbers.NumberParseException:
        number = None
    if (
        number is None
        or number.country_code != 84
        or not phonenumbers.is_valid_number(number)
        or phonenumbers.number_type(number)
        not in (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE)
    ):
        raise bilingual_error(
            "phone",
            "Số điện thoại di động Việt Nam không hợp lệ (ví dụ 0912 345 678)",
            "Not a valid Vietnamese mobile number (for example 0912 345 678)",
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


PhoneNumber = Annotated[str, AfterValidator(_vietnamese_mobile)]
"""A Vietnamese mobile number in any common spelling, normalised to E.164 (+849…)."""


_AREA_LOCATION = re.compile(r"^[A-Z][A-Za-z]+(/[A-Za-z0-9_+-]+)+$")


@cache
def _known_zones() -> frozenset[str]:
    return frozenset(available_timezones())


def _time_zone(value: str) -> str:
    # Area/Location names only: aliases such as "localtime" mean something else to every machine.
    if not _AREA_LOCATION.match(value) or value not in _known_zones():
        raise unknown_time_zone()
    if value.startswith("Etc/"):  # POSIX signs: Etc/GMT+7 is seven hours behind UTC, not Vietnam's +07:00
        raise bilingual_error(
            "timezone",
            "Dùng tên theo nơi chốn, ví dụ Asia/Ho_Chi_Minh (Etc/GMT+7 nghĩa là UTC−07:00)",
            "Use a place's zone, e.g. Asia/Ho_Chi_Minh (Etc/GMT+7 means UTC−07:00)",
        )
    return value


def unknown_time_zone() -> PydanticCustomError:
    return bilingual_error(
        "timezone", "Múi giờ không hợp lệ (ví dụ Asia/Ho_Chi_Minh)", "Unknown time zone (e.g. Asia/Ho_Chi_Minh)"
    )


TimeZoneName = Annotated[str, AfterValidator(_time_zone)]


def _nfc(value: str) -> str:
    _no_nul(value)
    kept = _visible(value)
    if value and _shows_nothing(kept):
        raise bilingual_error("invisible", "Phải có chữ nhìn thấy được", "Must contain visible text")
    return kept


def _visible(value: str) -> str:
    """Vietnamese typed on some keyboards arrives decomposed: one form (NFC) is stored and compared. Format
    characters (zero-width spaces and joiners, a byte-order mark, a soft hyphen) a paste brings along show as
    nothing on a page, as "?" in an SMS and stay in a health card: a name or a place is kept without them."""
    return "".join(c for c in unicodedata.normalize("NFC", value) if unicodedata.category(c) != "Cf").strip()


def _one_line(value: str) -> str:
    if any(c in value for c in "\t\n\r\u2028\u2029"):
        raise bilingual_error("one_line", "Chỉ được viết trên một dòng", "Must be on one line")
    return value


Label = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
    AfterValidator(_nfc),
    AfterValidator(_one_line),
]
"""A human-readable name or place on one line, Unicode-normalised (NFC)."""

LongLabel = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=300),
    AfterValidator(_nfc),
    AfterValidator(_one_line),
]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500), AfterValidator(_nfc)]
"""Why something was done, where the why is required: never blank, nor only spaces or invisible characters."""
PlaceName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=100),
    AfterValidator(_nfc),
    AfterValidator(_one_line),
]


def normalize_text(value: str) -> str:
    """A search's place or name as the stored ones are (nothing visible: empty, which searches for anything)."""
    return _visible(value)


def place_filter(value: str | None) -> str | None:
    """A place a search asks for, as the stored ones are; None (any place) when nothing visible was typed: a stray
    space or a pasted zero-width character asks for no place, not for one of that name."""
    return normalize_text(value) or None if value else None


def _upper(value: Any) -> Any:
    return value.strip().upper() if isinstance(value, str) else value


def _lower(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


# Case is folded before the pattern is checked (StringConstraints would check the pattern first).
ClinicCode = Annotated[str, BeforeValidator(_upper), StringConstraints(pattern=r"^[A-Z0-9][A-Z0-9-]{1,31}$")]
CatalogueCode = Annotated[str, BeforeValidator(_lower), StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{1,63}$")]
Username = Annotated[str, BeforeValidator(_lower), StringConstraints(pattern=r"^[a-z0-9][a-z0-9._-]{2,63}$")]


EARLIEST_DATE = date(2000, 1, 1)
LATEST_DATE = date(2100, 12, 31)


def _written_out(value: Any) -> Any:
    """A date is written out (ISO 8601), never a number: pydantic would read 1830297600 or "2027" as seconds since
    1970, and an officer's year or Excel's day count would become a date nobody meant."""
    if (isinstance(value, int | float) and not isinstance(value, bool)) or _numeric_text(value):
        raise bilingual_error("date_from_number", NOT_A_DATE_VI, NOT_A_DATE_EN)
    return value


CalendarDate = Annotated[date, BeforeValidator(_written_out), Field(ge=EARLIEST_DATE, le=LATEST_DATE)]
"""A date in the years the service plans for, written out; far-off dates are input errors, not arithmetic
overflows."""

OUT_OF_RANGE_VI = f"Ngày phải trong khoảng {EARLIEST_DATE} đến {LATEST_DATE}"
OUT_OF_RANGE_EN = f"Dates must lie between {EARLIEST_DATE} and {LATEST_DATE}"
NOT_A_DATE_VI = "Ngày không hợp lệ (YYYY-MM-DD)"
NOT_A_DATE_EN = "Not a valid date (YYYY-MM-DD)"
NOT_AN_INSTANT_VI = "Thời điểm không hợp lệ (ISO 8601, có múi giờ: …Z hoặc +07:00)"
NOT_AN_INSTANT_EN = "Not a valid instant (ISO 8601 with its zone: …Z or +07:00)"
_SPELLED_OUT = {
    date: ("date_from_number", NOT_A_DATE_VI, NOT_A_DATE_EN),
    datetime: ("instant_from_number", NOT_AN_INSTANT_VI, NOT_AN_INSTANT_EN),
    time: ("time_from_number", "Giờ không hợp lệ (HH:MM)", "Not a valid time of day (HH:MM)"),
}
"""What a date, an instant or a time of day written as a number is told, in a body (InputModel)."""
QUERY_WORDS = {OUT_OF_RANGE_EN: OUT_OF_RANGE_VI, NOT_A_DATE_EN: NOT_A_DATE_VI, NOT_AN_INSTANT_EN: NOT_AN_INSTANT_VI}
"""The Vietnamese of what `calendar_date` and `query_instant` say in English (a query parameter's error reaches
vaxbook.problems as Litestar's English text)."""


def in_our_years(day: date) -> bool:
    return EARLIEST_DATE <= day <= LATEST_DATE


def _in_our_years(moment: datetime) -> datetime:
    if not in_our_years(moment.date()):
        raise bilingual_error("date_out_of_range", OUT_OF_RANGE_VI, OUT_OF_RANGE_EN)
    return moment


Instant = Annotated[AwareDatetime, AfterValidator(_in_our_years)]
"""An instant with its offset, on a day in the years the service plans for: one on a far-off day is an input error,
not an overflow when it is turned into UTC or stored."""

_DATE_TEXT = re.compile(r"\d{4}-\d{2}-\d{2}\Z")
# an instant as a query string must spell it: ISO 8601 with its zone (not a number of seconds)
_ISO_INSTANT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})\Z")


_DAY_MONTH_YEAR = re.compile(r"([0-9]{1,2})/([0-9]{1,2})/([0-9]{4})")


def day_first(text: str) -> str:
    """A day written as Vietnamese write it (dd/mm/yyyy, never month first) as a date field sends it (YYYY-MM-DD),
    for a model to check; anything else as it was written."""
    written = _DAY_MONTH_YEAR.fullmatch(text)
    return f"{written[3]}-{int(written[2]):02d}-{int(written[1]):02d}" if written else text


def calendar_date(text: str) -> date:
    """A date as a query string or a page's form spells it (YYYY-MM-DD), in the years the service plans for:
    ValueError (its English words are keys of QUERY_WORDS) for anything else."""
    return _read_in_our_years(text, _DATE_TEXT, date.fromisoformat, NOT_A_DATE_EN)


def query_instant(text: str) -> datetime:
    """An instant as a query string spells it (with its zone), on a day in the years the service plans for:
    ValueError (its English words are keys of QUERY_WORDS) for anything else."""
    return _read_in_our_years(plus_restored(text), _ISO_INSTANT, datetime.fromisoformat, NOT_AN_INSTANT_EN)


_PLUS_AS_SPACE = re.compile(r" (\d{2}:\d{2})\Z")


def plus_restored(text: str) -> str:
    """An instant from a query string whose offset's "+" was left unescaped, so arrived as a space
    ("…T07:30:00 07:00"), with the "+" it was; anything else as it is. The API and the FHIR searches both read it."""
    return _PLUS_AS_SPACE.sub(r"+\1", text)


_Day = TypeVar("_Day", bound=date)


def _read_in_our_years(text: str, spelling: re.Pattern[str], parse: Callable[[str], _Day], wrong: str) -> _Day:
    try:
        value = parse(text) if spelling.match(text) else None
    except ValueError:
        value = None
    if value is None:
        raise ValueError(wrong)
    if not in_our_years(value.date() if isinstance(value, datetime) else value):
        raise ValueError(OUT_OF_RANGE_EN)
    return value


class QueryDate(date):
    """A date query parameter. The app decodes it with `calendar_date` (`decode_query_date`), so a far-off date is a
    422 naming its parameter, never an overflow further on; every date a route takes in its query string is one."""


class QueryInstant(datetime):
    """An instant query parameter, decoded by `query_instant` (`decode_query_instant`); as QueryDate for dates."""


def decode_query_date(kind: type, value: Any) -> QueryDate:
    """Litestar's type decoder for QueryDate."""
    day = calendar_date(value.isoformat() if isinstance(value, date) else str(value))
    return QueryDate(day.year, day.month, day.day)


def decode_query_instant(kind: type, value: Any) -> QueryInstant:
    """Litestar's type decoder for QueryInstant."""
    moment = query_instant(value.isoformat() if isinstance(value, datetime) else str(value))
    return QueryInstant.combine(moment.date(), moment.timetz())


QUERY_TYPE_DECODERS: list[tuple[Callable[[Any], bool], Callable[[type, Any], Any]]] = [
    (lambda kind: kind is QueryDate, decode_query_date),
    (lambda kind: kind is QueryInstant, decode_query_instant),
]
"""The app's type decoders (Litestar's `type_decoders`)."""
