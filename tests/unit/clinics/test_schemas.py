from __future__ import annotations

from datetime import time
from typing import Any
from uuid import uuid4

import pytest
from pydantic import ValidationError

from clinics.schemas import ClinicCreate, ClinicUpdate, ServiceCreate, ServiceUpdate, SlotCreate, SlotTemplateCreate

CLINIC = {
    "code": "tyt-ankhanh",
    "name": "Trạm Y tế phường An Khánh",
    "kind": "health_station",
    "province": "Cần Thơ",
    "district": "Ninh Kiều",
    "ward": "An Khánh",
    "address": "Phường An Khánh",
}


def error_types(model: type[Any], data: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(ValidationError) as info:
        model.model_validate(data)
    return {".".join(map(str, e["loc"])): e["type"] for e in info.value.errors()}


def test_clinic_codes_are_upper_cased_and_names_normalised() -> None:
    decomposed = "Tra\u0323m Y tê\u0301"
    clinic = ClinicCreate.model_validate(CLINIC | {"name": decomposed})
    assert clinic.code == "TYT-ANKHANH"
    assert clinic.name == "Trạm Y tế"
    assert clinic.timezone == "Asia/Ho_Chi_Minh"


def test_clinic_input_errors_name_each_field() -> None:
    assert error_types(ClinicCreate, CLINIC | {"timezone": "Mars/Olympus", "kind": "spa", "extra": 1}) == {
        "timezone": "vaxbook.timezone",
        "kind": "enum",
        "extra": "extra_forbidden",
    }
    assert error_types(ClinicUpdate, {"name": None}) == {"name": "vaxbook.not_null"}


def test_vaccination_services_need_a_product_and_health_services_none() -> None:
    base = {"code": "covid19", "name_vi": "Tiêm", "name_en": "Shot"}
    assert error_types(ServiceCreate, base | {"kind": "vaccination"}) == {
        "product_id": "vaxbook.product_for_vaccination"
    }
    health = {"kind": "health_service", "product_id": str(uuid4())}
    assert error_types(ServiceCreate, base | health) == {"product_id": "vaxbook.product_for_vaccination"}
    ages = {"kind": "health_service", "min_age_days": 10, "max_age_days": 5}
    assert error_types(ServiceCreate, base | ages) == {"max_age_days": "vaxbook.age_range"}
    assert ServiceUpdate.model_validate({"max_age_days": None}).model_dump(exclude_unset=True) == {"max_age_days": None}


def test_slot_window_rules() -> None:
    service = str(uuid4())
    start = "2026-12-01T07:30:00+07:00"
    assert error_types(SlotCreate, {"service_id": service, "starts_at": start, "ends_at": start, "capacity": 5}) == {
        "ends_at": "vaxbook.end_before_start"
    }
    naive = {"service_id": service, "starts_at": "2026-12-01T07:30:00", "ends_at": start, "capacity": -1}
    assert error_types(SlotCreate, naive) == {"starts_at": "timezone_aware", "capacity": "greater_than_equal"}
    long = {"service_id": service, "starts_at": start, "ends_at": "2026-12-02T07:30:00+07:00", "capacity": 1}
    assert error_types(SlotCreate, long) == {"ends_at": "vaxbook.slot_too_long"}
    impossible = {"service_id": service, "starts_at": "2026-02-30T07:30:00+07:00", "ends_at": start, "capacity": 1}
    assert "starts_at" in error_types(SlotCreate, impossible)


@pytest.mark.parametrize("moment", ["2026-12-01T07:30:00.123+07:00", "2026-12-01T07:30:30+07:00"])
def test_a_slot_starts_and_ends_on_a_whole_minute(moment: str) -> None:
    """10:00:00.123 beside 10:00 would be a second session that every page shows as "10:00"."""
    service = str(uuid4())
    whole = {"service_id": service, "starts_at": "2026-12-01T07:00:00+07:00", "ends_at": "2026-12-01T08:00+07:00"}
    assert SlotCreate.model_validate(whole | {"capacity": 1}).ends_at.minute == 0
    starting = whole | {"starts_at": moment, "capacity": 1}
    assert error_types(SlotCreate, starting) == {"starts_at": "vaxbook.whole_minute"}
    ending = whole | {"ends_at": moment.replace("07:30", "08:30"), "capacity": 1}
    assert error_types(SlotCreate, ending) == {"ends_at": "vaxbook.whole_minute"}


def test_template_rules() -> None:
    base = {
        "service_id": str(uuid4()),
        "weekday": 1,
        "start_time": "07:30",
        "end_time": "11:00",
        "slot_minutes": 30,
        "capacity": 10,
        "valid_from": "2026-12-01",
    }
    assert SlotTemplateCreate.model_validate(base).start_time == time(7, 30)
    assert error_types(SlotTemplateCreate, base | {"end_time": "07:00"}) == {"end_time": "vaxbook.end_before_start"}
    too_long = base | {"slot_minutes": 240}
    assert error_types(SlotTemplateCreate, too_long) == {"slot_minutes": "vaxbook.slot_longer_than_session"}
    backwards = base | {"valid_until": "2026-11-01"}
    assert error_types(SlotTemplateCreate, backwards) == {"valid_until": "vaxbook.validity_order"}
    assert error_types(SlotTemplateCreate, base | {"weekday": 8}) == {"weekday": "less_than_equal"}
    assert error_types(SlotTemplateCreate, base | {"start_time": "07:30+07:00"}) == {"start_time": "vaxbook.local_time"}
    assert error_types(SlotTemplateCreate, base | {"start_time": "07:30:15"}) == {"start_time": "vaxbook.whole_minute"}
    assert error_types(SlotTemplateCreate, base | {"end_time": "11:00:00.5"}) == {"end_time": "vaxbook.whole_minute"}
