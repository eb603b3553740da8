"""Every date and instant a route takes lies in the years the service plans for (2000-2100): one on a far-off day
is a 422 naming it, never an overflow when a default is counted from it, when it is turned into UTC or when it is
stored. Walks every route: its query and path parameters are QueryDate / QueryInstant, and each date or instant
field of its body (and of the models inside it) refuses the calendar's ends."""

from __future__ import annotations

import types
import typing
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest
from pydantic import AwareDatetime, BaseModel, TypeAdapter, ValidationError

from booking.schemas import BirthDate
from vaxbook.app import create_app
from vaxbook.clock import department_day
from vaxbook.fields import QueryDate, QueryInstant, calendar_date, query_instant
from vaxbook.settings import Settings

FAR_OFF_DAYS = ["0001-01-01", "9999-12-31"]
FAR_OFF_INSTANTS = ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-12:00", "1999-12-31T23:59:59Z"]


def _holds(annotation: object, kinds: tuple[type, ...]) -> bool:
    if isinstance(annotation, type) and issubclass(annotation, kinds):
        return True
    if typing.get_origin(annotation) in (typing.Union, types.UnionType, list, tuple, typing.Annotated):
        return any(_holds(a, kinds) for a in typing.get_args(annotation))
    return False


def _models_in(annotation: object) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [model for argument in typing.get_args(annotation) for model in _models_in(argument)]


@pytest.fixture(scope="module")
def handlers(tmp_path_factory: pytest.TempPathFactory) -> list[typing.Any]:
    data_dir: Path = tmp_path_factory.mktemp("data")
    app = create_app(Settings(jwt_secret="x" * 40, data_dir=data_dir), dsn="postgresql://nobody@localhost/none")
    return [handler for route in app.routes for handler in getattr(route, "route_handlers", [])]


def test_every_date_or_instant_in_a_query_or_path_is_one_the_app_bounds(handlers: list[typing.Any]) -> None:
    plain = [
        (handler.handler_name, name)
        for handler in handlers
        for name, parameter in handler.parsed_fn_signature.parameters.items()
        if name != "data"
        and _holds(parameter.annotation, (date, datetime))
        and not _holds(parameter.annotation, (QueryDate, QueryInstant))
    ]
    assert plain == []


def test_every_date_or_instant_in_a_body_refuses_the_calendar_s_ends(handlers: list[typing.Any]) -> None:
    waiting = [
        model
        for handler in handlers
        if "data" in handler.parsed_fn_signature.parameters
        for model in _models_in(handler.parsed_fn_signature.parameters["data"].annotation)
    ]
    seen: set[type[BaseModel]] = set()
    taken: list[tuple[str, str, str]] = []
    checked = 0
    while waiting:
        model = waiting.pop()
        if model in seen:
            continue
        seen.add(model)
        for name, field in model.model_fields.items():
            waiting += _models_in(field.annotation)
            if _holds(field.annotation, (datetime, AwareDatetime)):
                values = FAR_OFF_INSTANTS
            elif _holds(field.annotation, (date,)):
                values = FAR_OFF_DAYS
            else:
                continue
            checked += 1
            for value in values:
                try:
                    model.model_validate({name: value})
                except ValidationError as refused:
                    if any(e["loc"][:1] == (name,) and e["type"] != "missing" for e in refused.errors()):
                        continue
                taken.append((model.__name__, name, value))
    assert checked > 10, "the walk found the bodies' dates and instants"
    assert taken == []


def _bodies(handlers: list[typing.Any]) -> list[type[BaseModel]]:
    """Every model a route's body is, or holds."""
    waiting = [
        model
        for handler in handlers
        if "data" in handler.parsed_fn_signature.parameters
        for model in _models_in(handler.parsed_fn_signature.parameters["data"].annotation)
    ]
    seen: list[type[BaseModel]] = []
    while waiting:
        model = waiting.pop()
        if model not in seen:
            seen.append(model)
            waiting += [inner for field in model.model_fields.values() for inner in _models_in(field.annotation)]
    return seen


@pytest.mark.parametrize("number", ["1830297600", " 2027 ", "46000.5", "-1", 1830297600])
def test_every_date_instant_or_time_of_day_in_a_body_refuses_a_number(
    handlers: list[typing.Any], number: object
) -> None:
    """pydantic reads "1830297600" as seconds since 1970 (a date, an instant) and 3600 as 01:00 UTC: a number that
    nobody meant as a day or an hour (an officer's year, Excel's day count) is refused, saying how to write one."""
    words = {
        datetime: "Not a valid instant (ISO 8601",
        date: "Not a valid date (YYYY-MM-DD)",
        time: "Not a valid time of day (HH:MM)",
    }
    taken: list[tuple[str, str]] = []
    checked = 0
    for model in _bodies(handlers):
        for name, field in model.model_fields.items():
            kind = next((k for k in (datetime, date, time) if _holds(field.annotation, (k,))), None)
            if kind is None or _holds(field.annotation, (BaseModel,)):
                continue
            checked += 1
            try:
                model.model_validate({name: number})
            except ValidationError as refused:
                said = [e["msg"] for e in refused.errors() if e["loc"][:1] == (name,)]
                expected = "Input should be a valid" if isinstance(number, int) else words[kind]
                if said and all(m.startswith(expected) for m in said):
                    continue
            taken.append((model.__name__, name))
    assert checked > 10, "the walk found the bodies' dates, instants and times of day"
    assert taken == []


@pytest.mark.parametrize("text", ["2000-01-01", "2100-12-31", "2026-11-30"])
def test_a_query_date_in_our_years_is_taken(text: str) -> None:
    assert calendar_date(text) == date.fromisoformat(text)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("1999-12-31", "Dates must lie between"),
        ("2101-01-01", "Dates must lie between"),
        ("2026-02-30", "Not a valid date"),
        ("20261130", "Not a valid date"),
        ("2026-W48-1", "Not a valid date"),
        ("2026-11-30\n", "Not a valid date"),
    ],
)
def test_a_query_date_outside_our_years_or_spelt_otherwise_is_refused(text: str, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        calendar_date(text)


def test_a_query_instant_needs_its_zone_and_a_day_in_our_years() -> None:
    assert query_instant("2026-11-30T08:00+07:00").utcoffset() is not None
    # a "+" left unescaped in a URL arrives as a space: read as it was meant, as the FHIR searches read it
    assert query_instant("2026-11-30T08:00:00 07:00") == query_instant("2026-11-30T08:00:00+07:00")
    for text in ["2026-11-30T08:00", "2026-11-30", "1700000000", "2026-11-30T08:00Z\n", "2026-11-30T08:00 7"]:
        with pytest.raises(ValueError, match="Not a valid instant"):
            query_instant(text)
    for text in FAR_OFF_INSTANTS[:2]:
        with pytest.raises(ValueError, match="Dates must lie between"):
            query_instant(text)


def test_today_is_the_department_s_day() -> None:
    """Between midnight and 07:00 in Cần Thơ, UTC still has yesterday: "today" is the department's day."""
    assert department_day(datetime(2026, 11, 30, 16, 59, tzinfo=UTC)) == date(2026, 11, 30)
    assert department_day(datetime(2026, 11, 30, 17, 0, tzinfo=UTC)) == date(2026, 12, 1)


def test_a_child_born_today_in_can_tho_may_be_registered() -> None:
    today = department_day(datetime.now(UTC))
    assert TypeAdapter(BirthDate).validate_python(today) == today
    with pytest.raises(ValidationError):
        TypeAdapter(BirthDate).validate_python(today + timedelta(days=1))
