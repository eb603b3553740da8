"""Demo data for Cần Thơ: real hospitals and ward health stations, the services of the 2021 campaign,
two weeks of slots from weekly templates, and staff accounts whose passwords are shown once."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from uuid import UUID

from clinics import service as clinics
from clinics.models import ClinicKind, ServiceKind, Sex
from clinics.schemas import ClinicCreate, ServiceCreate, SlotTemplateCreate
from priority import service as priority
from priority.models import RuleKind
from priority.schemas import GroupShare, PriorityGroupCreate, Rule, TemplateReservations
from quotas import service as quotas
from quotas.schemas import Allocation, LotCreate, Receipt, VaccineProductCreate
from vaxbook.audit import SYSTEM
from vaxbook.auth import service as auth
from vaxbook.auth.models import Role
from vaxbook.db import UnitOfWork, advisory_xact_lock

PROVINCE = "Cần Thơ"
DEMO_SEED_LOCK = 7_141_592_654

PRODUCTS = [
    VaccineProductCreate(
        code="comirnaty",
        name="Comirnaty (COVID-19 mRNA)",
        manufacturer="Pfizer-BioNTech",
        doses_in_series=2,
        min_days_between_doses=21,
        doses_per_vial=6,
        cvx_code="208",
    ),
    VaccineProductCreate(
        code="vat-ivac",
        name="VAT – Vắc xin uốn ván hấp phụ",
        manufacturer="IVAC",
        doses_in_series=2,
        min_days_between_doses=28,
        doses_per_vial=1,
        cvx_code="35",
    ),
    VaccineProductCreate(
        code="gene-hbvax",
        name="Gene-HBvax 10 mcg (viêm gan B sơ sinh)",
        manufacturer="VABIOTECH",
        doses_in_series=1,
        min_days_between_doses=0,
        doses_per_vial=1,
        cvx_code="8",
    ),
]

# (code, Vietnamese name, English name, product code or None, min age days, max age days, sex)
SERVICES = [
    ("covid19", "Tiêm vắc xin COVID-19", "COVID-19 vaccination", "comirnaty", 12 * 365 + 3, None, None),
    (
        "tetanus-pregnancy",
        "Tiêm phòng uốn ván cho phụ nữ mang thai",
        "Tetanus vaccination for pregnant women",
        "vat-ivac",
        None,
        None,
        Sex.FEMALE,
    ),
    ("hepb-birth", "Tiêm vắc xin viêm gan B liều sơ sinh", "Hepatitis B birth dose", "gene-hbvax", 0, 7, None),
    ("antenatal", "Khám thai định kỳ", "Antenatal check-up", None, None, None, Sex.FEMALE),
]


GROUPS = [
    PriorityGroupCreate(
        code="pregnant-13w",
        name_vi="Phụ nữ mang thai từ 13 tuần",
        name_en="Pregnant women from 13 weeks",
        rank=1,
        rule=Rule(kind=RuleKind.PREGNANCY, min_weeks=13),
        needs_evidence=True,
    ),
    PriorityGroupCreate(
        code="elderly-65",
        name_vi="Người từ 65 tuổi trở lên",
        name_en="People aged 65 and over",
        rank=2,
        rule=Rule(kind=RuleKind.AGE, min_age_years=65),
    ),
    PriorityGroupCreate(
        code="health-workers",
        name_vi="Nhân viên y tế",
        name_en="Health workers",
        rank=3,
        rule=Rule(kind=RuleKind.HEALTH_WORKER),
        needs_evidence=True,
    ),
    PriorityGroupCreate(
        code="chronic-disease",
        name_vi="Người có bệnh nền",
        name_en="People with a chronic disease",
        rank=4,
        rule=Rule(kind=RuleKind.CHRONIC_DISEASE),
        needs_evidence=True,
    ),
]
# The obstetrics hospital keeps every tetanus seat for pregnant women; ward stations keep 30% of COVID-19 seats
# for people 65 and over. Groups may book 7 days ahead, everyone else 3.
HELD_BACK = {
    (ClinicKind.HOSPITAL, "tetanus-pregnancy"): [("pregnant-13w", 100)],
    (ClinicKind.HEALTH_STATION, "covid19"): [("elderly-65", 30)],
}
GROUP_OPENS_DAYS = 7
EVERYONE_OPENS_DAYS = 3


@dataclass(frozen=True)
class DemoClinic:
    code: str
    name: str
    kind: ClinicKind
    district: str
    ward: str
    address: str
    seats_per_slot: int
    services: tuple[str, ...]


CLINICS = [
    DemoClinic(
        "BV-PHUSAN-CT",
        "Bệnh viện Phụ sản thành phố Cần Thơ",
        ClinicKind.HOSPITAL,
        "Ninh Kiều",
        "Cái Khế",
        "106 Cách Mạng Tháng 8, phường Cái Khế, quận Ninh Kiều",
        25,
        ("tetanus-pregnancy", "covid19", "hepb-birth", "antenatal"),
    ),
    DemoClinic(
        "BV-NHIDONG-CT",
        "Bệnh viện Nhi đồng thành phố Cần Thơ",
        ClinicKind.HOSPITAL,
        "Ninh Kiều",
        "An Bình",
        "345 Nguyễn Văn Cừ, phường An Bình, quận Ninh Kiều",
        20,
        ("covid19", "hepb-birth"),
    ),
    DemoClinic(
        "TYT-ANKHANH",
        "Trạm Y tế phường An Khánh",
        ClinicKind.HEALTH_STATION,
        "Ninh Kiều",
        "An Khánh",
        "Phường An Khánh, quận Ninh Kiều",
        10,
        ("covid19", "tetanus-pregnancy", "antenatal"),
    ),
    DemoClinic(
        "TYT-XUANKHANH",
        "Trạm Y tế phường Xuân Khánh",
        ClinicKind.HEALTH_STATION,
        "Ninh Kiều",
        "Xuân Khánh",
        "Phường Xuân Khánh, quận Ninh Kiều",
        10,
        ("covid19", "tetanus-pregnancy"),
    ),
    DemoClinic(
        "TYT-ANTHOI",
        "Trạm Y tế phường An Thới",
        ClinicKind.HEALTH_STATION,
        "Bình Thủy",
        "An Thới",
        "Phường An Thới, quận Bình Thủy",
        10,
        ("covid19", "tetanus-pregnancy"),
    ),
    DemoClinic(
        "TYT-THOILONG",
        "Trạm Y tế phường Thới Long",
        ClinicKind.HEALTH_STATION,
        "Ô Môn",
        "Thới Long",
        "Phường Thới Long, quận Ô Môn",
        8,
        ("covid19", "tetanus-pregnancy"),
    ),
    DemoClinic(
        "TTYT-CAIRANG",
        "Trung tâm Y tế quận Cái Răng",
        ClinicKind.VACCINATION_SITE,
        "Cái Răng",
        "Lê Bình",
        "Phường Lê Bình, quận Cái Răng",
        30,
        ("covid19",),
    ),
    DemoClinic(
        "TTYT-OMON",
        "Trung tâm Y tế quận Ô Môn",
        ClinicKind.VACCINATION_SITE,
        "Ô Môn",
        "Châu Văn Liêm",
        "Phường Châu Văn Liêm, quận Ô Môn",
        30,
        ("covid19",),
    ),
]

# Weekday mornings, 07:30–11:00 in half-hour slots; Saturday mornings too.
SESSION = (time(7, 30), time(11, 0), 30)
WEEKDAYS = (1, 2, 3, 4, 5, 6)
SLOTS_PER_SESSION = 7
# The department keeps a fifth more than it hands out, for clinics that run short.
DEPARTMENT_RESERVE = 0.2


@dataclass(frozen=True)
class DemoAccount:
    username: str
    password: str
    role: Role
    clinic_code: str | None


async def seed(uow: UnitOfWork, *, now: datetime, horizon_days: int) -> list[DemoAccount] | None:
    """Load the demo data into an empty database. Returns the staff accounts made, or None when clinics exist."""
    async with uow.transaction() as conn:
        # Replicas started together: the first loads, the others wait here and then find clinics.
        await advisory_xact_lock(conn, DEMO_SEED_LOCK)
        if await clinics.list_clinics(
            uow, province=None, district=None, ward=None, kind=None, include_inactive=True, after_code=None, limit=1
        ):
            return None
        product_ids = {p.code: (await quotas.create_product(uow, SYSTEM, p)).id for p in PRODUCTS}
        service_ids = {}
        for code, name_vi, name_en, product, min_age, max_age, sex in SERVICES:
            created = await clinics.create_service(
                uow,
                SYSTEM,
                ServiceCreate(
                    code=code,
                    name_vi=name_vi,
                    name_en=name_en,
                    kind=ServiceKind.VACCINATION if product else ServiceKind.HEALTH_SERVICE,
                    product_id=product_ids[product] if product else None,
                    min_age_days=min_age,
                    max_age_days=max_age,
                    eligible_sex=sex,
                ),
            )
            service_ids[code] = created.id
        clinic_ids = {}
        for demo in CLINICS:
            clinic = await clinics.create_clinic(
                uow,
                SYSTEM,
                ClinicCreate(
                    code=demo.code,
                    name=demo.name,
                    kind=demo.kind,
                    province=PROVINCE,
                    district=demo.district,
                    ward=demo.ward,
                    address=f"{demo.address}, thành phố Cần Thơ",
                ),
            )
            clinic_ids[demo.code] = clinic.id

        accounts = [
            DemoAccount("admin", _password(), Role.HEALTH_ADMIN, None),
            DemoAccount("phusan.staff", _password(), Role.CLINIC_STAFF, "BV-PHUSAN-CT"),
            DemoAccount("ankhanh.staff", _password(), Role.CLINIC_STAFF, "TYT-ANKHANH"),
            DemoAccount("hotline", _password(), Role.OPERATOR, None),
        ]
        admin = None
        for account in accounts:
            created_account = await auth.create_staff(
                uow,
                SYSTEM,
                username=account.username,
                display_name=account.username,
                role=account.role,
                password=account.password,
                clinic_ids=[clinic_ids[account.clinic_code]] if account.clinic_code else [],
            )
            admin = admin or auth.principal_of(created_account)
        assert admin is not None

        start, end, minutes = SESSION
        seats_a_week = SLOTS_PER_SESSION * len(WEEKDAYS)
        needs = {
            (clinic_ids[demo.code], product_ids[product]): demo.seats_per_slot * seats_a_week * (horizon_days // 7 + 1)
            for demo in CLINICS
            for service_code, _, _, product, *_ in SERVICES
            if product and service_code in demo.services
        }
        await stock_clinics(uow, now=now, needs=needs, batch="CT")
        group_ids = {g.code: (await priority.create_group(uow, SYSTEM, g)).id for g in GROUPS}
        for demo in CLINICS:
            for service_code in demo.services:
                for weekday in WEEKDAYS:
                    template = await clinics.create_template(
                        uow,
                        admin,
                        clinic_ids[demo.code],
                        SlotTemplateCreate(
                            service_id=service_ids[service_code],
                            weekday=weekday,
                            start_time=start,
                            end_time=end,
                            slot_minutes=minutes,
                            capacity=demo.seats_per_slot,
                            valid_from=now.date(),
                        ),
                    )
                    shares = HELD_BACK.get((demo.kind, service_code))
                    if shares:
                        await priority.set_template_seats(
                            uow,
                            admin,
                            clinic_ids[demo.code],
                            template.id,
                            TemplateReservations(
                                opens_days_before=EVERYONE_OPENS_DAYS,
                                groups=[
                                    GroupShare(
                                        group_id=group_ids[code],
                                        share_percent=percent,
                                        opens_days_before=GROUP_OPENS_DAYS,
                                    )
                                    for code, percent in shares
                                ],
                            ),
                        )
        await clinics.generate_slots(uow, SYSTEM, clinic_id=None, now=now, from_date=None, days=horizon_days)
    return accounts


async def stock_clinics(uow: UnitOfWork, *, now: datetime, needs: dict[tuple[UUID, UUID], int], batch: str) -> None:
    """One Ministry shipment per vaccine into the department's store, then allocated to each clinic as its
    slots need ({(clinic, product): doses}): vaccination slots are only made where doses are."""
    products = sorted({product for _, product in needs})
    for n, product in enumerate(products, start=1):
        lot = await quotas.create_lot(
            uow,
            SYSTEM,
            LotCreate(product_id=product, lot_number=f"{batch}-{n:02d}", expires_on=now.date() + timedelta(days=365)),
        )
        wanted = sum(doses for (_, p), doses in needs.items() if p == product)
        await quotas.receive(uow, SYSTEM, Receipt(lot_id=lot.id, doses=round(wanted * (1 + DEPARTMENT_RESERVE))))
        for (clinic, p), doses in sorted(needs.items()):
            if p == product:
                await quotas.allocate(uow, SYSTEM, Allocation(lot_id=lot.id, clinic_id=clinic, doses=doses))


def _password() -> str:
    return secrets.token_urlsafe(12)
