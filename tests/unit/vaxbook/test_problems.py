"""Field errors speak JSON, not Python, in both languages: `true` and `null`, strings in double quotes, choices
joined with "hoặc" in Vietnamese and "or" in English."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from enum import IntEnum, StrEnum
from typing import Annotated, Any, Literal
from uuid import UUID

import pytest
from litestar import get, post
from litestar.params import JSONBody, QueryParameter
from litestar.testing import TestClient, create_test_client
from pydantic import BaseModel, Field, HttpUrl, ValidationError

import vaxbook.app  # noqa: F401 (every domain's refusals defined, as the app imports them)
from vaxbook.auth.models import Role
from vaxbook.errors import Conflict, Taken
from vaxbook.fields import InputModel
from vaxbook.problems import PROBLEM_MEMBERS, field_errors_of, from_domain_error, problem_details_plugin


class Colour(StrEnum):
    RED = "red"
    QUOTED = "it's"
    TRICKY = 'say "hi" or not'


class Dose(IntEnum):
    FIRST = 1
    SECOND = 2


class Pregnancy(BaseModel):
    kind: Literal["pregnancy"]


class Age(BaseModel):
    kind: Literal["age"]


class Probe(BaseModel):
    """A field of every kind whose pydantic message names values."""

    accepted: Literal[True] = True
    mixed: Literal["a", 1, None, False] = "a"
    colour: Colour = Colour.RED
    dose: Dose = Dose.FIRST
    role: Literal[Role.CLINIC_STAFF, Role.OPERATOR] = Role.OPERATOR
    nothing: None = None
    rule: Annotated[Pregnancy | Age, Field(discriminator="kind")] = Pregnancy(kind="pregnancy")
    site: HttpUrl = HttpUrl("https://example.org")
    nested: Pregnancy = Pregnancy(kind="pregnancy")
    flag: bool = True
    day: Annotated[date, Field(gt=date(2020, 1, 1))] = date(2021, 1, 1)
    amount: Annotated[Decimal, Field(ge=Decimal("0.5"))] = Decimal(1)
    raw: Literal[b"x"] = b"x"
    code: Annotated[str, Field(pattern=r"^[0-9A-Z]{4}-[0-9A-Z]{4}$")] = "AB12-CD34"
    lot_id: UUID = UUID(int=1)


BAD = {
    "accepted": False,
    "mixed": "b",
    "colour": "blue",
    "dose": 3,
    "role": "citizen",
    "nothing": 1,
    "rule": {"kind": None},
    "site": "ftp://example.org",
    "nested": 5,
    "flag": "maybe",
    "day": "2019-12-31",
    "amount": "0.1",
    "raw": "y",
    "code": "0B60-YVT",
    "lot_id": "nonsense",
}
EXPECTED = {
    "accepted": ("Phải là true", "Input should be true"),
    "mixed": ('Phải là "a", 1, null hoặc false', 'Input should be "a", 1, null or false'),
    "colour": (
        'Phải là "red", "it\'s" hoặc "say \\"hi\\" or not"',
        'Input should be "red", "it\'s" or "say \\"hi\\" or not"',
    ),
    "dose": ("Phải là 1 hoặc 2", "Input should be 1 or 2"),
    "role": ('Phải là "clinic_staff" hoặc "operator"', 'Input should be "clinic_staff" or "operator"'),
    "nothing": ("Phải là null", "Input should be null"),
    "rule": ('Trường "kind" phải là "pregnancy" hoặc "age"', 'Field "kind" should be "pregnancy" or "age"'),
    "site": (
        'Địa chỉ URL phải bắt đầu bằng "http" hoặc "https"',
        'URL scheme should be "http" or "https"',
    ),
    "nested": ("Phải là một đối tượng JSON", "Input should be an object"),
    "flag": ("Phải là true hoặc false", "Input should be a valid boolean, unable to interpret input"),
    "day": ("Phải lớn hơn 2020-01-01", "Input should be greater than 2020-01-01"),
    "amount": ("Phải lớn hơn hoặc bằng 0.5", "Input should be greater than or equal to 0.5"),
    # a value JSON cannot write: nothing rather than Python
    "raw": ("Giá trị không hợp lệ", "Invalid value"),
    # neither the pattern (a regular expression) nor a piece of the input
    "code": ("Không đúng định dạng", "Not in the expected format"),
    "lot_id": ("Mã định danh UUID không hợp lệ", "Input should be a valid UUID"),
}
PYTHON = re.compile(r"\b(True|False|None)\b|'\w+'|<\w+\.\w+: |Decimal\(|datetime\.|instance of")


@post("/probe")
async def probe(data: JSONBody[Probe]) -> None:
    """Never reached: every test sends a bad body."""


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient[Any]]:
    with create_test_client([probe], plugins=[problem_details_plugin()], debug=False) as test_client:
        yield test_client


def messages(client: TestClient[Any], body: dict[str, Any], language: str) -> dict[str, str]:
    response = client.post("/probe", json=body, headers={"Accept-Language": language})
    assert response.status_code == 422, response.text
    errors = response.json()["errors"]
    assert all(set(e) == {"field", "source", "code", "message"} for e in errors)  # the input is never echoed
    return {e["field"]: e["message"] for e in errors}


def test_every_field_error_names_its_values_as_json(client: TestClient[Any]) -> None:
    vi, en = messages(client, BAD, "vi"), messages(client, BAD, "en")
    assert {field: (vi[field], en[field]) for field in BAD} == EXPECTED


@pytest.mark.parametrize("field", sorted(BAD))
def test_no_message_shows_python_or_vietnamese_says_or(client: TestClient[Any], field: str) -> None:
    # one field at a time, so that a message cannot hide behind another's
    vi, en = messages(client, {field: BAD[field]}, "vi"), messages(client, {field: BAD[field]}, "en")
    assert not PYTHON.search(vi[field]), vi[field]
    assert not PYTHON.search(en[field]), en[field]
    assert not re.search(r"\bor\b", vi[field].replace('"say \\"hi\\" or not"', "")), vi[field]


def test_a_missing_discriminator_is_named_in_json(client: TestClient[Any]) -> None:
    vi, en = messages(client, {"rule": {}}, "vi"), messages(client, {"rule": {}}, "en")
    assert (vi["rule"], en["rule"]) == ('Thiếu trường "kind"', 'Field "kind" is required')


@pytest.mark.parametrize("member", sorted(PROBLEM_MEMBERS - {"detail"}))  # detail is a refusal's own argument
def test_a_refusal_s_extra_fields_never_take_a_problem_s_own_members(member: str) -> None:
    """`status` is the HTTP status in every problem+json (RFC 9457): a booking's status goes under its own name."""
    with pytest.raises(ValueError, match=member):
        from_domain_error(Conflict(**{member: "cancelled"}))
    assert from_domain_error(Conflict(booking_status="cancelled")).fields == {"booking_status": "cancelled"}


def _every_subclass(cls: type) -> Iterator[type]:
    for sub in cls.__subclasses__():
        yield sub
        yield from _every_subclass(sub)


def test_a_value_taken_already_names_the_field_a_request_sends_it_in() -> None:
    """Every "taken" refusal (a code, a username, a lot number, a phone, a CCCD, a slot's time) says which field,
    as a refusal of input does: a form shows it beside the field, an import beside its column."""
    taken = list(_every_subclass(Taken))
    assert len(taken) >= 8
    sent = {name for model in _every_subclass(InputModel) for name in model.model_fields}
    for kind in taken:
        refusal = kind.__new__(kind)
        Taken.__init__(refusal)  # what every refusal of the kind names, whatever else its own __init__ adds
        problem = from_domain_error(refusal)
        assert [(e.field, e.code) for e in problem.field_errors] == [(kind.field, "taken")], kind
        assert kind.field in sent, f"{kind.__name__}.field is no field of any request"


@get("/query-probe")
async def query_probe(
    limit: Annotated[int, QueryParameter(ge=1, le=200)] = 50,
    word: Annotated[str | None, QueryParameter(max_length=5)] = None,
    kind: Annotated[Literal["csv", "xlsx"], QueryParameter()] = "csv",
    ratio: Annotated[float | None, QueryParameter()] = None,
    count: Annotated[int, QueryParameter(name="_count", ge=1)] = 10,
) -> None:
    """Never reached: every test sends a bad query."""


@pytest.mark.parametrize(
    ("query", "vi", "en"),
    [
        ("limit=500", "Phải nhỏ hơn hoặc bằng 200", "Must be at most 200"),
        ("limit=0", "Phải lớn hơn hoặc bằng 1", "Must be at least 1"),
        ("limit=1.5", "Phải là số nguyên", "Must be a whole number"),
        ("word=abcdefgh", "Không được dài quá 5 ký tự", "At most 5 characters"),
        ("kind=pdf", 'Phải là "csv" hoặc "xlsx"', 'Input should be "csv" or "xlsx"'),
        ("_count=0", "Phải lớn hơn hoặc bằng 1", "Must be at least 1"),
        ("ratio=half", "Phải là số", "Must be a number"),
    ],
)
def test_a_query_value_out_of_its_bounds_is_said_with_the_bound_in_both_languages(query: str, vi: str, en: str) -> None:
    with create_test_client([query_probe], plugins=[problem_details_plugin()], debug=False) as test_client:
        said = {
            language: test_client.get(f"/query-probe?{query}", headers={"Accept-Language": language}).json()
            for language in ("vi", "en")
        }
    assert [e["message"] for e in said["vi"]["errors"]] == [vi]
    assert [e["message"] for e in said["en"]["errors"]] == [en]
    assert query.split("=")[1] not in str(said["en"]["errors"]), "the value sent is not echoed"
    sent_as = query.split("=")[0]
    assert [e["field"] for e in said["en"]["errors"]] == [sent_as], "named as the request sends it"
    assert said["en"]["detail"] == f"Check these fields: {sent_as}"


@pytest.mark.parametrize("body", [[], "x", 5, [{"accepted": True}]])
def test_a_body_that_is_no_object_is_named_body(client: TestClient[Any], body: Any) -> None:
    response = client.post("/probe", json=body)
    assert response.status_code == 422, response.text
    assert [(e["field"], e["source"]) for e in response.json()["errors"]] == [("body", "body")]
    assert response.json()["detail"].endswith(": body")


def test_a_bound_of_thousands_is_grouped_as_each_language_writes_it() -> None:
    class Doses(BaseModel):
        doses: Annotated[int, Field(ge=1, le=10_000_000)]

    with pytest.raises(ValidationError) as refused:
        Doses.model_validate({"doses": 99_999_999})
    [found] = field_errors_of(refused.value.errors())
    assert found.message == ("Phải nhỏ hơn hoặc bằng 10.000.000", "Input should be less than or equal to 10,000,000")
