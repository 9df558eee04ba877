"""The same people through the single path (enrollment_register) and the import path
(import_residents with 参保年度) give the same enrollments and the same rule answers."""

from datetime import date

import pytest
from django.db import transaction

from enrollment.imports import import_residents
from enrollment.models import EmployeeCoverage, Enrollment, GapRepair
from enrollment.services import EnrollmentError, enrollment_register
from subsidies.models import AssistanceIdentity

from .import_support import csv_bytes
from .support import paid_row, person

pytestmark = pytest.mark.usefixtures("policies")

HEADER = ["姓名", "身份证号码", "户籍", "居住证", "学生类别", "参保地", "参保年度"]
FIELDS = ("region_id", "category", "status", "registered_via", "personal_standard", "fiscal_subsidy",
          "assistance_identity", "assistance_amount", "amount_due", "timing", "paid_amount", "paid_on",
          "benefit_start", "benefit_end", "waiting_months", "waiting_days", "cap_adjustment",
          "nonlocal_via_parent_permit")
LULIANG_DAY = date(2026, 1, 10)  # in Lüliang's 2026 window (2026-01-01 … 02-25), a payment day
SHANGHAI_DAY = date(2026, 11, 15)  # in Shanghai's 2027 window (… 2026-12-20)


def luliang_people() -> dict:
    """Lüliang residents whose facts differ in every way the rules read."""
    p = {
        "paid_2025": person("141102", "19800501", "011", name="连续参保"),
        "gap_2025": person("141102", "19800501", "021", name="断保"),
        "expired_permit": person("141102", "19800501", "031", name="居住证过期", hukou="nonlocal",
                                 residence_permit=True, residence_permit_expires_on=date(2025, 6, 30)),
        "valid_permit": person("141102", "19800501", "041", name="居住证有效", hukou="nonlocal",
                               residence_permit=True, residence_permit_expires_on=date(2027, 12, 31)),
        "employee": person("141102", "19800501", "051", name="职工在保"),
        "left_employee": person("141102", "19800501", "061", name="职工中断"),
        "newborn": person("141181", "20260102", "071", name="新生儿", today=LULIANG_DAY),
        "dibao_in_county": person("141181", "19800501", "081", name="孝义低保"),
        "identity_elsewhere": person("141102", "19800501", "091", name="外地低保"),
        "nonlocal_no_permit": person("141102", "19800501", "101", name="无居住证", hukou="nonlocal"),
    }
    paid_row(p["paid_2025"], 2025)
    EmployeeCoverage.objects.create(id_number=p["employee"].id_number, name="职工在保", region_code="141100",
                                    year=2026)
    EmployeeCoverage.objects.create(id_number=p["left_employee"].id_number, name="职工中断",
                                    region_code="141100", year=2025, ended_on=date(2025, 12, 15))
    for key, region in (("dibao_in_county", "141100"), ("identity_elsewhere", "330200")):
        r = p[key]
        AssistanceIdentity.objects.create(id_number=r.id_number, name=r.name, region_id=region, year=2026,
                                          identity="dibao", certified_on=date(2025, 6, 1))
    return p


def shanghai_people() -> dict:
    """Shanghai pupils (its adult ranges are not in source) with and without a break."""
    pupil = {"student": "primary_secondary"}
    p = {
        "continuous": person("310101", "20120101", "011", name="连续", **pupil),
        "gap_2026": person("310101", "20120101", "021", name="断保一年", **pupil),
        "repaired_2026": person("310101", "20120101", "031", name="补缴", **pupil),
        "gap_2025_2026": person("310101", "20120101", "041", name="断保两年", **pupil),
        "college": person("310101", "20050101", "051", name="大学生", student="college"),
    }
    for key in ("continuous", "gap_2026", "repaired_2026", "college"):
        paid_row(p[key], 2025)
    for key in ("continuous", "college"):
        paid_row(p[key], 2026)
    GapRepair.objects.create(resident=p["repaired_2026"], year=2026)
    return p


def row_of(r, year) -> list:
    return [r.name, r.id_number, "本地" if r.hukou == "local" else "外地",
            "有" if r.residence_permit else "无",
            {"": "", "college": "大学生", "primary_secondary": "中小学生"}[r.student], r.region_id, str(year)]


def snapshot(e: Enrollment) -> tuple:
    return tuple(getattr(e, f) for f in FIELDS)


def through_single_path(people, year, today) -> dict:
    out = {}
    with transaction.atomic():
        for key, r in people.items():
            try:
                with transaction.atomic():
                    e = enrollment_register(resident=r, year=year, registered_via="community", actor=None,
                                            today=today)
                out[key] = snapshot(Enrollment.objects.get(pk=e.pk))
            except EnrollmentError:
                out[key] = "refused"
        transaction.set_rollback(True)  # the import then starts from the same database
    return out


def through_import(people, year, today) -> dict:
    data = csv_bytes([row_of(r, year) for r in people.values()], header=HEADER)
    result = import_residents(data, "same.csv", skip_invalid=True, actor="tester", today=today)
    assert result.created == 0  # everybody was on file: only the registration differs
    rows = {e.resident_id: snapshot(e) for e in Enrollment.objects.filter(year=year)}
    return {key: rows.get(r.pk, "refused") for key, r in people.items()}


@pytest.mark.parametrize("build, year, today", [(luliang_people, 2026, LULIANG_DAY),
                                                (shanghai_people, 2027, SHANGHAI_DAY)])
def test_single_path_and_import_register_the_same_enrollments(build, year, today):
    people = build()
    single = through_single_path(people, year, today)
    assert not Enrollment.objects.filter(year=year).exists()
    imported = through_import(people, year, today)
    assert imported == single


def test_the_varied_people_are_really_varied():
    """The comparison above means something: refusals, assistance, newborns, regions differ."""
    people = luliang_people()
    single = through_single_path(people, 2026, LULIANG_DAY)
    refused = sorted(k for k, v in single.items() if v == "refused")
    assert refused == ["employee", "expired_permit", "nonlocal_no_permit"]
    by_field = {k: dict(zip(FIELDS, v)) for k, v in single.items() if v != "refused"}
    assert (by_field["dibao_in_county"]["assistance_identity"], str(by_field["dibao_in_county"]["amount_due"])) \
        == ("dibao", "80.00")
    assert (by_field["identity_elsewhere"]["assistance_identity"],
            str(by_field["identity_elsewhere"]["amount_due"])) == ("", "400.00")
    newborn = by_field["newborn"]
    assert (newborn["status"], newborn["registered_via"], newborn["timing"], newborn["benefit_start"],
            newborn["region_id"]) == ("paid", "newborn", "newborn", date(2026, 1, 2), "141181")
    assert by_field["valid_permit"]["category"] == "resident"


@pytest.mark.parametrize("build, year, today", [(luliang_people, 2026, LULIANG_DAY),
                                                (shanghai_people, 2027, SHANGHAI_DAY)])
def test_the_rule_answers_agree_too_waiting_and_cap(build, year, today):
    """The import's dry run keeps each row's full answer (waiting, benefit start, cap):
    the history, repaired years and leaving employee insurance are read alike."""
    from enrollment.selectors import quote_request_for
    from enrollment.services import registration_date, spec_for
    from policy.rules import QuoteError, quote

    people = build()
    data = csv_bytes([row_of(r, year) for r in people.values()], header=HEADER)
    result = import_residents(data, "same.csv", skip_invalid=True, dry_run=True, actor="t", today=today)
    imported = {p.id_number: p.quote for p in result.rows if p.quote is not None}
    single = {}
    for r in people.values():
        spec = spec_for(r.region_id, year)
        try:
            single[r.id_number] = quote(spec, quote_request_for(r, year, registration_date(spec, today)))
        except QuoteError:
            pass
    assert imported == single
    waiting = {key: single[r.id_number].waiting_months for key, r in people.items() if r.id_number in single}
    if year == 2027:
        assert waiting == {"continuous": 0, "gap_2026": 4, "repaired_2026": 3, "gap_2025_2026": 5}
    else:
        assert (waiting["paid_2025"], waiting["gap_2025"]) == (0, 3)
