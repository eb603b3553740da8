from __future__ import annotations

from datetime import date
from typing import Any
from uuid import uuid4

import pytest
from pydantic import ValidationError

from booking.schemas import CheckInRequest, PersonSearch, ProfileUpsert, StandbyJoin
from priority.schemas import Release
from tests.factories import consent, person_details


def errors(model: type[Any], data: dict[str, Any]) -> dict[str, tuple[str, str]]:
    with pytest.raises(ValidationError) as info:
        model.model_validate(data)
    return {".".join(map(str, e["loc"])): (e["type"], e.get("ctx", {}).get("vi", "")) for e in info.value.errors()}


def test_a_profile_is_normalised() -> None:
    profile = ProfileUpsert.model_validate(
        person_details(cccd="092 190 012 345", full_name="  Nguye\u0302\u0303n Thi\u0323 Hoa ") | {"consent": consent()}
    )
    assert profile.cccd == "092190012345"
    assert profile.full_name == "Nguyễn Thị Hoa"


def test_bad_cccd_names_the_field_in_both_languages() -> None:
    mismatch = errors(ProfileUpsert, person_details(cccd="092090012345") | {"consent": consent()})
    assert mismatch["cccd"][0] == "vaxbook.cccd_mismatch"
    assert "không khớp" in mismatch["cccd"][1]
    short = errors(ProfileUpsert, person_details(cccd="12345") | {"consent": consent()})
    assert short["cccd"][0] == "vaxbook.cccd"
    missing = errors(ProfileUpsert, {k: v for k, v in person_details().items() if k != "cccd"} | {"consent": consent()})
    assert missing["cccd"][0] == "missing"


def test_bad_dates_and_consent() -> None:
    future = errors(ProfileUpsert, person_details() | {"date_of_birth": "2999-01-01", "consent": consent()})
    assert future["date_of_birth"][0] == "vaxbook.date_of_birth"
    impossible = errors(ProfileUpsert, person_details() | {"date_of_birth": "1990-02-30", "consent": consent()})
    assert "date_of_birth" in impossible
    declined = errors(ProfileUpsert, person_details() | {"consent": {"accepted": False, "text_version": "x"}})
    assert declined["consent.accepted"][0] == "literal_error"
    assert "consent" in errors(ProfileUpsert, person_details())


def test_standby_scope_and_search_need_exactly_one_way() -> None:
    base = {"service_id": "8c1f2c7e-25d9-4c77-9e4e-0b1f6b1c1a11", "date_from": "2026-12-01", "date_to": "2026-12-10"}
    assert errors(StandbyJoin, base)["district"][0] == "vaxbook.standby_scope"
    both = base | {"clinic_id": base["service_id"], "province": "Cần Thơ", "district": "Ô Môn"}
    assert set(errors(StandbyJoin, both)) == {"province", "district"}, "the two to clear"
    assert errors(StandbyJoin, both)["district"][0] == "vaxbook.standby_scope"
    stray = base | {"clinic_id": base["service_id"], "district": "Ô Môn"}
    assert set(errors(StandbyJoin, stray)) == {"district"}, "a stray district is no clinic's"
    assert set(errors(StandbyJoin, base | {"district": "Ô Môn"})) == {"province"}, "the one missing"
    assert set(errors(StandbyJoin, base | {"province": "Cần Thơ"})) == {"district"}
    assert StandbyJoin.model_validate(base | {"province": "Cần Thơ", "district": "Ô Môn"}).district == "Ô Môn"
    backwards = base | {"clinic_id": base["service_id"], "date_to": "2026-11-01"}
    assert errors(StandbyJoin, backwards)["date_to"][0] == "vaxbook.date_range_order"
    assert errors(PersonSearch, {})["phone"][0] == "vaxbook.search_by"
    assert errors(PersonSearch, {"full_name": "Lê Văn Tám"})["date_of_birth"][0] == "vaxbook.search_by"
    found = PersonSearch.model_validate({"full_name": "Lê Văn Tám", "date_of_birth": "1950-02-02"})
    assert (found.full_name, found.date_of_birth) == ("Lê Văn Tám", date(1950, 2, 2))
    assert PersonSearch.model_validate({"phone": "0912345678"}).phone == "+84912345678"


@pytest.mark.parametrize(
    ("model", "data", "refused"),
    [
        (CheckInRequest, {"code": "ABCD-EFGH", "cccd_last4": "12a4"}, "cccd_last4"),
        (CheckInRequest, {"code": "ABCD-EFGH", "date_of_birth": "2023-02-29"}, "date_of_birth"),
        (CheckInRequest, {"qr": 123}, "qr"),
        (PersonSearch, {"phone": "12"}, "phone"),
        (PersonSearch, {"full_name": "", "date_of_birth": "1990-01-01"}, "full_name"),
        (
            StandbyJoin,
            {"service_id": str(uuid4()), "clinic_id": "x", "date_from": "2027-01-01", "date_to": "2027-01-02"},
            "clinic_id",
        ),
        (
            ProfileUpsert,
            person_details() | {"consent": consent(), "email": "not-an-address", "notify_by": "email"},
            "email",
        ),
        (Release, {"clinic_id": "x", "slot_id": str(uuid4())}, "clinic_id"),
    ],
)
def test_a_field_refused_is_the_only_error_a_check_across_fields_adds_nothing(
    model: type[Any], data: dict[str, Any], refused: str
) -> None:
    """The field was sent, so "give one of these" would be false: only its own error is said."""
    assert list(errors(model, data)) == [refused]


def test_a_mistyped_code_or_digits_at_the_door_are_said_as_the_nurse_reads_them() -> None:
    refused = errors(CheckInRequest, {"code": "XX", "cccd_last4": "１２３４"})
    assert refused["code"] == ("vaxbook.booking_code", "Mã lịch hẹn có dạng ABCD-1234 (8 chữ và số)")
    assert refused["cccd_last4"] == ("vaxbook.cccd_last4", "Nhập đúng 4 chữ số cuối của CCCD")
    assert CheckInRequest.model_validate({"code": "abcd 1234", "cccd_last4": "0042"}).code == "ABCD-1234"
