"""``import_payments`` prices through ``ClassQuoteMemo``: people the rules cannot tell apart
share one answer, so the enrollments' paid columns are worked out once per class of people,
not once per row (bench/imports.py) — and every enrollment still ends exactly as
``payment_record`` leaves it, for people who differ in what the rules read."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.db import transaction

from enrollment.models import Enrollment
from enrollment.tests.support import person, register
from payments import bulk
from payments.imports import import_payments, parse_moment
from payments.models import Payment
from payments.services import channel_code, ledger_check, payment_record
from subsidies.models import AssistanceIdentity

from .test_api import NOV, carried
from .test_imports import csv_bytes

pytestmark = pytest.mark.usefixtures("policies")
MOMENT = "2025-11-10 10:30:00"


@pytest.fixture(autouse=True)
def business_date(settings):
    settings.BUSINESS_DATE = NOV


@pytest.fixture
def people():
    """Three adults alike but for their birth dates, a 低保 holder, one with a break in 2025, a pupil."""
    alike = [person("141102", birth, seq, name=name) for birth, seq, name in (
        ("19800501", "011", "甲一"), ("19750302", "021", "甲二"), ("19901111", "031", "甲三"))]
    dibao = person("141181", "19800501", "041", name="乙低保")
    AssistanceIdentity.objects.create(id_number=dibao.id_number, name=dibao.name, region_id="141100", year=2026,
                                      identity="dibao", certified_on=date(2025, 6, 1))
    gap = person("141102", "19800501", "051", name="丙断保")
    pupil = person("141102", "20150301", "061", name="丁学生", student="primary_secondary")
    everyone = [*alike, dibao, gap, pupil]
    for r in everyone:
        if r is not gap:
            carried(r, 2025)
        register(r, 2026, NOV)
    return everyone


def _rows(people):
    dues = {e.resident_id: e.amount_due for e in Enrollment.objects.filter(year=2026)}
    return [["集中代收", f"JZ-{i}", r.id_number, r.name, 2026, f"{dues[r.pk]:.2f}", MOMENT, "某村委会"]
            for i, r in enumerate(people, 1)]


PAID = ("status", "category", "personal_standard", "fiscal_subsidy", "assistance_identity", "assistance_amount",
        "amount_due", "timing", "benefit_start", "benefit_end", "waiting_months", "waiting_days", "cap_adjustment",
        "paid_amount", "paid_on", "paid_at", "paid_via")


def _state():
    enrollments = {e["resident__id_number"]: e for e in Enrollment.objects.filter(year=2026).values(
        "resident__id_number", *PAID)}
    payments = sorted(Payment.objects.exclude(channel="carried_over").values_list(
        "txn_id", "id_number", "amount", "outcome", "response_status", "paid_on"))
    return enrollments, payments


def test_people_alike_share_one_answer_and_every_row_lands_as_payment_record_would(people, monkeypatch):
    rows = _rows(people)
    worked_out = []
    real_fill_paid = bulk.fill_paid

    def counting(enrollment, result, **kw):
        worked_out.append(result)
        return real_fill_paid(enrollment, result, **kw)

    monkeypatch.setattr(bulk, "fill_paid", counting)
    with transaction.atomic():
        result = import_payments(csv_bytes(rows), "a.csv", actor="test")
        assert result.as_dict() == {"rows": 6, "paid": 6, "unchanged": 0, "already_paid": 0, "invalid_rows": 0,
                                    "rejected": False}
        by_import = _state()
        transaction.set_rollback(True)
    # the three adults alike: one answer; the 低保 holder, the break and the pupil: one each
    assert len(worked_out) == 4
    assert len({id(r) for r in worked_out}) == 4
    assert not Payment.objects.exclude(channel="carried_over").exists()

    for row in rows:  # the same rows one by one, as the channel API records them
        ch, txn, number, name, year, amount, moment, _ = row
        rec = payment_record(channel=channel_code(ch), txn_id=txn, id_number=number, name=name, year=year,
                             amount=Decimal(amount), paid_at=parse_moment(moment), actor="test",
                             payer_kind="collector")
        assert rec.status == 201
    by_record = _state()
    assert by_import == by_record
    enrollments = by_import[0]
    dibao, gap = people[3], people[4]
    assert enrollments[dibao.id_number]["assistance_identity"] == "dibao"
    assert enrollments[dibao.id_number]["assistance_amount"] > 0
    assert enrollments[gap.id_number]["waiting_months"] != enrollments[people[0].id_number]["waiting_months"]
    assert {enrollments[r.id_number]["paid_amount"] for r in people[:3]} == {enrollments[people[0].id_number][
        "amount_due"]}
    assert ledger_check() == []
