"""Demo data for Cần Thơ: real hospitals and ward health stations, the services of the 2021 campaign and the
children's vaccines of the expanded programme on immunisation, two weeks of slots from weekly templates, one session
whose seats go by draw, and staff accounts whose passwords are shown once."""

from __future__ import annotations

import secrets
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from uuid import UUID

from clinics import service as clinics
from clinics.models import ClinicKind, ServiceKind, Sex
from clinics.schemas import ClinicCreate, ServiceCreate, SlotTemplateCreate
from priority import service as priority
from priority.models import CHILDBEARING_AGES, RuleKind
from priority.schemas import DrawSetup, GroupShare, PriorityGroupCreate, Rule, TemplateReservations
from quotas import service as quotas
from quotas.schemas import Allocation, LotCreate, Receipt, VaccineProductCreate
from vaxbook.audit import SYSTEM
from vaxbook.auth import service as auth
from vaxbook.auth.models import Principal, Role
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
        name_en="VAT – adsorbed tetanus vaccine",
        manufacturer="IVAC",
        doses_in_series=2,
        min_days_between_doses=28,
        doses_per_vial=1,
        cvx_code="35",
    ),
    VaccineProductCreate(
        code="gene-hbvax",
        name="Gene-HBvax 10 mcg (viêm gan B sơ sinh)",
        name_en="Gene-HBvax 10 mcg (hepatitis B, newborn)",
        manufacturer="VABIOTECH",
        doses_in_series=1,  # the birth dose; the three infant doses of hepatitis B come in the 5-in-1
        min_days_between_doses=0,
        doses_per_vial=1,
        cvx_code="08",  # CVX codes are written with their leading zero: "8" is no code at all
    ),
    # The expanded programme on immunisation (Tiêm chủng mở rộng), on the schedule of Thông tư 38/2017/TT-BYT.
    # A product has one minimum interval between doses: the programme's minimum, where its schedule asks more.
    VaccineProductCreate(
        code="combe-five",
        name="ComBE Five – Vắc xin 5 trong 1 (DPT-VGB-Hib)",
        name_en="ComBE Five – 5-in-1 vaccine (DTP-HepB-Hib)",
        manufacturer="Biological E",
        doses_in_series=3,  # at 2, 3 and 4 months; the booster at 18 months is DPT, another vaccine
        min_days_between_doses=28,  # "at least one month after the previous dose"
        doses_per_vial=1,
        cvx_code="102",  # DTP-Hib-Hep B
    ),
    VaccineProductCreate(
        code="bopv",
        name="bOPV – Vắc xin bại liệt uống 2 típ (1, 3)",
        name_en="bOPV – oral polio vaccine, types 1 and 3",
        manufacturer="POLYVAC",
        doses_in_series=3,  # given with the 5-in-1, at 2, 3 and 4 months
        min_days_between_doses=28,
        doses_per_vial=20,
        cvx_code="178",  # OPV bivalent
    ),
    VaccineProductCreate(
        code="ipv",
        name="IPV – Vắc xin bại liệt tiêm",
        name_en="IPV – injected polio vaccine",
        manufacturer="Sanofi Pasteur",
        doses_in_series=1,  # at 5 months (Quyết định 2144/QĐ-BYT, 2016)
        min_days_between_doses=0,
        doses_per_vial=1,
        cvx_code="10",
    ),
    VaccineProductCreate(
        code="mvvac",
        name="MVVAC – Vắc xin sởi",
        name_en="MVVAC – measles vaccine",
        manufacturer="POLYVAC",
        doses_in_series=1,  # at 9 months; the second dose against measles is measles-rubella at 18 months
        min_days_between_doses=0,
        doses_per_vial=10,
        cvx_code="05",
    ),
    VaccineProductCreate(
        code="mrvac",
        name="MRVAC – Vắc xin sởi – rubella",
        name_en="MRVAC – measles-rubella vaccine",
        manufacturer="POLYVAC",
        doses_in_series=1,  # at 18 months
        min_days_between_doses=0,
        doses_per_vial=10,
        cvx_code="04",
    ),
    VaccineProductCreate(
        code="jevax",
        name="Jevax – Vắc xin viêm não Nhật Bản",
        name_en="Jevax – Japanese encephalitis vaccine",
        manufacturer="VABIOTECH",
        # from 12 months: the second dose 1–2 weeks after the first, the third a year after the second; one
        # interval cannot say both, so the product holds the shorter and the third dose may be booked too early
        doses_in_series=3,
        min_days_between_doses=7,
        doses_per_vial=1,
        cvx_code="39",  # Japanese encephalitis, subcutaneous (inactivated, mouse brain)
    ),
]


def _months(n: int) -> int:
    """Age in days from which a child counts as n months old: the fewest days that n calendar months span, so
    that nobody is turned away on or after their n-month birthday (and nobody is let in more than a few days before)."""
    return min((date(2001 + (m + n) // 12, (m + n) % 12 + 1, 1) - date(2001, m + 1, 1)).days for m in range(12))


# The programme's children, catch-up doses included: under five (a limit of years is read as whole months and
# compared by birthdays: 60 months, so a child is welcome until the day before the fifth birthday).
UNDER_FIVE = 5 * 365 - 1


def _years(n: int) -> int:
    """Age in days from which someone counts as n years old: the fewest days that n years span (as _months)."""
    return min((date(y + n, 3, 1) - date(y, 3, 1)).days for y in range(2001, 2005))


# a pregnancy declared outside these years is refused (priority); the services for pregnant women take none either
CHILDBEARING_FROM, CHILDBEARING_UNTIL = _years(CHILDBEARING_AGES[0]), _years(CHILDBEARING_AGES[1] + 1) - 1

# Weekday mornings, 07:30–11:00 in half-hour slots; Saturday mornings too.
SESSION = (time(7, 30), time(11, 0), 30)
SLOTS_PER_SESSION = 7
WEEKDAYS = (1, 2, 3, 4, 5, 6)
# Ward stations run the programme's sessions (buổi tiêm chủng) on fixed days of the month; templates repeat weekly,
# so the demo stations give children's vaccines one morning a week, on Wednesday.
EPI_WEEKDAYS = (3,)
EPI_SERVICES = ("dpt-vgb-hib", "polio-oral", "polio-ipv", "measles", "measles-rubella", "japanese-encephalitis")


@dataclass(frozen=True)
class DemoService:
    code: str
    name_vi: str
    name_en: str
    product: str | None = None
    min_age_days: int | None = None
    max_age_days: int | None = None
    sex: Sex | None = None
    weekdays: tuple[int, ...] = WEEKDAYS


SERVICES = [
    DemoService("covid19", "Tiêm vắc xin COVID-19", "COVID-19 vaccination", "comirnaty", min_age_days=12 * 365 + 3),
    DemoService(
        "tetanus-pregnancy",
        "Tiêm phòng uốn ván cho phụ nữ mang thai",
        "Tetanus vaccination for pregnant women",
        "vat-ivac",
        sex=Sex.FEMALE,
        min_age_days=CHILDBEARING_FROM,
        max_age_days=CHILDBEARING_UNTIL,
    ),
    DemoService(
        "hepb-birth",
        "Tiêm vắc xin viêm gan B liều sơ sinh",
        "Hepatitis B birth dose",
        "gene-hbvax",
        min_age_days=0,
        max_age_days=7,
    ),
    DemoService(
        "antenatal",
        "Khám thai định kỳ",
        "Antenatal check-up",
        sex=Sex.FEMALE,
        min_age_days=CHILDBEARING_FROM,
        max_age_days=CHILDBEARING_UNTIL,
    ),
    DemoService(
        "dpt-vgb-hib",
        "Tiêm vắc xin 5 trong 1 (bạch hầu, ho gà, uốn ván, viêm gan B, Hib)",
        "5-in-1 vaccination (diphtheria, pertussis, tetanus, hepatitis B, Hib)",
        "combe-five",
        min_age_days=_months(2),
        max_age_days=UNDER_FIVE,
        weekdays=EPI_WEEKDAYS,
    ),
    DemoService(
        "polio-oral",
        "Uống vắc xin bại liệt (bOPV)",
        "Oral polio vaccine (bOPV)",
        "bopv",
        min_age_days=_months(2),
        max_age_days=UNDER_FIVE,
        weekdays=EPI_WEEKDAYS,
    ),
    DemoService(
        "polio-ipv",
        "Tiêm vắc xin bại liệt (IPV)",
        "Inactivated polio vaccination (IPV)",
        "ipv",
        min_age_days=_months(5),
        max_age_days=UNDER_FIVE,
        weekdays=EPI_WEEKDAYS,
    ),
    DemoService(
        "measles",
        "Tiêm vắc xin sởi",
        "Measles vaccination",
        "mvvac",
        min_age_days=_months(9),
        max_age_days=UNDER_FIVE,
        weekdays=EPI_WEEKDAYS,
    ),
    DemoService(
        "measles-rubella",
        "Tiêm vắc xin sởi – rubella",
        "Measles-rubella vaccination",
        "mrvac",
        min_age_days=_months(18),
        max_age_days=UNDER_FIVE,
        weekdays=EPI_WEEKDAYS,
    ),
    DemoService(
        "japanese-encephalitis",
        "Tiêm vắc xin viêm não Nhật Bản",
        "Japanese encephalitis vaccination",
        "jevax",
        min_age_days=_months(12),
        max_age_days=UNDER_FIVE,
        weekdays=EPI_WEEKDAYS,
    ),
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
# The obstetrics hospital's first COVID-19 session five days or more ahead goes by draw, closing two days before it:
# entries, the draw's own pages and its result can be tried as soon as the demo is loaded.
DRAW = ("BV-PHUSAN-CT", "covid19", timedelta(days=5), timedelta(days=2))


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
        ("covid19", "tetanus-pregnancy", "antenatal", *EPI_SERVICES),
    ),
    DemoClinic(
        "TYT-XUANKHANH",
        "Trạm Y tế phường Xuân Khánh",
        ClinicKind.HEALTH_STATION,
        "Ninh Kiều",
        "Xuân Khánh",
        "Phường Xuân Khánh, quận Ninh Kiều",
        10,
        ("covid19", "tetanus-pregnancy", *EPI_SERVICES),
    ),
    DemoClinic(
        "TYT-ANTHOI",
        "Trạm Y tế phường An Thới",
        ClinicKind.HEALTH_STATION,
        "Bình Thủy",
        "An Thới",
        "Phường An Thới, quận Bình Thủy",
        10,
        ("covid19", "tetanus-pregnancy", *EPI_SERVICES),
    ),
    DemoClinic(
        "TYT-THOILONG",
        "Trạm Y tế phường Thới Long",
        ClinicKind.HEALTH_STATION,
        "Ô Môn",
        "Thới Long",
        "Phường Thới Long, quận Ô Môn",
        8,
        ("covid19", "tetanus-pregnancy", *EPI_SERVICES),
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
        for service in SERVICES:
            created = await clinics.create_service(
                uow,
                SYSTEM,
                ServiceCreate(
                    code=service.code,
                    name_vi=service.name_vi,
                    name_en=service.name_en,
                    kind=ServiceKind.VACCINATION if service.product else ServiceKind.HEALTH_SERVICE,
                    product_id=product_ids[service.product] if service.product else None,
                    min_age_days=service.min_age_days,
                    max_age_days=service.max_age_days,
                    eligible_sex=service.sex,
                ),
            )
            service_ids[service.code] = created.id
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
        services = {service.code: service for service in SERVICES}
        needs: dict[tuple[UUID, UUID], int] = defaultdict(int)
        for demo in CLINICS:
            for service in (services[code] for code in demo.services):
                if service.product:
                    seats_a_week = demo.seats_per_slot * SLOTS_PER_SESSION * len(service.weekdays)
                    needs[clinic_ids[demo.code], product_ids[service.product]] += seats_a_week * (horizon_days // 7 + 1)
        await stock_clinics(uow, now=now, needs=needs, batch="CT")
        group_ids = {g.code: (await priority.create_group(uow, SYSTEM, g)).id for g in GROUPS}
        for demo in CLINICS:
            for service_code in demo.services:
                for weekday in services[service_code].weekdays:
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
        clinic_code, service_code, ahead, closes_before = DRAW
        await hold_a_draw(
            uow,
            admin,
            clinic_ids[clinic_code],
            service_ids[service_code],
            now=now,
            ahead=ahead,
            closes_before=closes_before,
        )
    return accounts


async def hold_a_draw(
    uow: UnitOfWork,
    admin: Principal,
    clinic_id: UUID,
    service_id: UUID,
    *,
    now: datetime,
    ahead: timedelta,
    closes_before: timedelta,
) -> None:
    """The clinic's first session of the service starting `ahead` of now or later goes by draw, closing
    `closes_before` it starts; none when the slots made do not reach that far."""
    clinic = await clinics.get_clinic(uow, clinic_id)
    day = (now + ahead).astimezone(clinic.zone).date()
    _, slots = await clinics.list_clinic_slots(
        uow, admin, clinic_id, now=now, date_from=day, date_to=None, max_days=31, after=None, limit=200
    )
    first = next((s for s in slots if s.service_id == service_id and s.starts_at >= now + ahead), None)
    if first is not None:
        setup = DrawSetup(closes_at=first.starts_at - closes_before)
        await priority.set_draw(uow, admin, clinic_id, first.id, setup, now=now)


async def stock_clinics(uow: UnitOfWork, *, now: datetime, needs: dict[tuple[UUID, UUID], int], batch: str) -> None:
    """One Ministry shipment per vaccine into the department's store, then allocated to each clinic as its
    slots need ({(clinic, product): doses}): vaccination slots are only made where doses are."""
    products = sorted({product for _, product in needs})
    for n, product in enumerate(products, start=1):
        lot = await quotas.create_lot(
            uow,
            SYSTEM,
            LotCreate(product_id=product, lot_number=f"{batch}-{n:02d}", expires_on=now.date() + timedelta(days=365)),
            now=now,
        )
        wanted = sum(doses for (_, p), doses in needs.items() if p == product)
        await quotas.receive(
            uow, SYSTEM, Receipt(lot_id=lot.id, doses=round(wanted * (1 + DEPARTMENT_RESERVE))), now=now
        )
        for (clinic, p), doses in sorted(needs.items()):
            if p == product:
                await quotas.allocate(uow, SYSTEM, Allocation(lot_id=lot.id, clinic_id=clinic, doses=doses), now=now)


def _password() -> str:
    return secrets.token_urlsafe(12)
