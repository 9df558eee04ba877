"""A roster large enough for the bulk paths (the re-price staged by COPY, owed refunds by
COPY, answers shared by class of rule inputs): every enrollment and refund read back from
the database with its exact amounts, the audit events counted, and the amounts compared
with the single pricing path of enrollment (the quote a person gets alone)."""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import Decimal

import pytest

from enrollment.models import Enrollment
from enrollment.pricing import plan_repricing
from enrollment.selectors import PersonFacts
from enrollment.tests.support import person, register, register_and_pay
from enrollment.writer import COPY_FROM
from subsidies.models import OwedRefund, RosterImport

from .test_roster import run

pytestmark = pytest.mark.usefixtures("policies")

NOV = date(2025, 11, 10)
TODAY = date(2025, 12, 5)  # in the window; registrations priced on this day (a payment day)
ASSISTANCE = {"tekun": Decimal("400.00"), "returned_poverty": Decimal("360.00"), "dibao": Decimal("320.00"),
              "monitored": Decimal("280.00")}
NAMES = {"tekun": "特困供养人员", "returned_poverty": "返贫致贫人口", "dibao": "最低生活保障家庭成员",
         "monitored": "防止返贫监测对象"}
DEPARTMENT = {"tekun": "民政局", "dibao": "吕梁市民政局", "monitored": "乡村振兴发展中心",
              "returned_poverty": "乡村振兴发展中心"}


def test_a_large_roster_reprices_the_unpaid_and_owes_the_paid_exactly_as_the_rules_price_each_person():
    rng = random.Random(20261130)
    unpaid_n, paid_n = COPY_FROM + 5, 40
    people, enrollments, rows, best = [], {}, [], {}
    for i in range(unpaid_n + paid_n):
        born = date(1945, 1, 1) + timedelta(days=rng.randrange(29000))  # 1945 … 2024
        if i % 37 == 0:
            born = date(2025, 1, 1) + timedelta(days=rng.randrange(200))  # a year the continuity counts
        p = person("141102", born.strftime("%Y%m%d"), f"{i % 1000:03d}", name=f"张{i}")
        people.append(p)
        enrollments[p.id_number] = (register(p, 2026, NOV) if i < unpaid_n
                                    else register_and_pay(p, 2026, NOV, NOV, "400.00"))
        codes = rng.sample(sorted(ASSISTANCE), rng.choice([1, 1, 1, 2]))
        for code in codes:
            certified = date(2025, 1, 1) + timedelta(days=rng.randrange((TODAY - date(2025, 1, 1)).days + 1))
            rows.append([p.name, p.id_number, rng.choice([NAMES[code], code]), DEPARTMENT[code],
                         certified.isoformat()])
        best[p.id_number] = max(codes, key=lambda c: ASSISTANCE[c])
    rng.shuffle(rows)
    # nobody was covered in 2025: not continuous, so every identity holder is priced as a
    # special group (no waiting) — timing "exempt"
    events = Enrollment.pgh_event_model.objects.filter(pgh_label="update").count()

    result = run(rows, today=TODAY)

    assert result.as_dict() == {"rows": len(rows), "new": len(rows), "unchanged": 0, "removed": 0,
                                "invalid_rows": 0, "pending": 0, "rejected": False, "updated": 0,
                                "repriced": unpaid_n, "refunds_owed": paid_n}
    for p in people:
        e = Enrollment.objects.get(pk=enrollments[p.id_number].pk)
        code = best[p.id_number]
        if e.status == "registered":
            assert (e.amount_due, e.assistance_identity, e.assistance_amount, e.category, e.timing) == (
                Decimal("400.00") - ASSISTANCE[code], code, ASSISTANCE[code], "resident", "exempt"), p.id_number
        else:
            assert (e.status, e.paid_amount, e.amount_due) == ("paid", Decimal("400.00"), Decimal("400.00"))
    first = RosterImport.objects.order_by("department").first()
    assert sorted(RosterImport.objects.values_list("department", "rows", "repriced", "refunds_owed")) == sorted([
        (first.department, first.rows, unpaid_n, paid_n),
        *[(r.department, r.rows, 0, 0) for r in RosterImport.objects.exclude(pk=first.pk)]])
    refunds = {o.id_number: o for o in OwedRefund.objects.all()}
    assert len(refunds) == paid_n
    for p in people[unpaid_n:]:
        o, code = refunds[p.id_number], best[p.id_number]
        assert (o.enrollment_id, o.name, o.region_id, o.year, o.identity, o.paid_amount, o.due_with_assistance,
                o.amount, o.status, o.roster_id, o.note) == (
            enrollments[p.id_number].pk, p.name, "141100", 2026, code, Decimal("400.00"),
            Decimal("400.00") - ASSISTANCE[code], ASSISTANCE[code], "owed", first.pk,
            "集中缴费期内新认定，已缴费，退还资助部分（003 §二）")
        assert o.created_at <= o.updated_at
    # the audit: one insert event per refund, one update event per re-priced enrollment
    assert OwedRefund.pgh_event_model.objects.filter(pgh_label="insert").count() == paid_n
    assert Enrollment.pgh_event_model.objects.filter(pgh_label="update").count() - events == unpaid_n
    # enrollment's own pricing of each unpaid one (exact rule inputs, no memo) finds nothing to change
    plan = plan_repricing([PersonFacts.of(p) for p in people[:unpaid_n]], today=TODAY)
    assert not plan.refused
    by_id = {u.enrollment_id: u for u in plan.updates}
    for p in people[:unpaid_n]:
        u = by_id[enrollments[p.id_number].pk]
        e = Enrollment.objects.get(pk=u.enrollment_id)
        assert (u.amount_due, u.assistance_identity, u.assistance_amount, u.timing, u.category) == (
            e.amount_due, e.assistance_identity, e.assistance_amount, e.timing, e.category)


def test_changed_and_returning_identities_are_updated_in_place_and_new_ones_inserted():
    """Keys on file are updated (same row), keys not on file inserted; the audit has one
    insert event per new row and one update event per changed row."""
    from subsidies.models import AssistanceIdentity

    li = person("141102", "19800501", name="李四")
    wang = person("141102", "19750301", "021", name="王五")
    zhao = person("141102", "19690909", "033", name="赵六")
    events = AssistanceIdentity.pgh_event_model.objects

    def imported(rows, name):
        from subsidies.roster import import_roster

        from .test_roster import roster
        return import_roster(roster(rows), name, region="141100", year=2026, today=TODAY, actor="test")

    imported([["李四", li.id_number, "dibao", "民政局", "2025-06-01"],
              ["王五", wang.id_number, "tekun", "民政局", "2025-05-01"]], "a.csv")
    first = {a.id_number: a for a in AssistanceIdentity.objects.all()}
    assert events.filter(pgh_label="insert").count() == 2 and events.filter(pgh_label="update").count() == 0

    b = imported([["李四", li.id_number, "dibao", "民政局", "2025-07-01"],
                  ["赵六", zhao.id_number, "monitored", "乡村振兴发展中心", "2025-08-01"]], "b.csv")
    assert (b.new, b.updated, b.unchanged, b.removed) == (1, 1, 0, 1)
    now = {a.id_number: a for a in AssistanceIdentity.objects.all()}
    civil_b = RosterImport.objects.get(file_name="b.csv", department="civil_affairs")
    assert now[li.id_number].pk == first[li.id_number].pk
    assert (now[li.id_number].certified_on, now[li.id_number].source, now[li.id_number].roster_id,
            now[li.id_number].removed_at, now[li.id_number].created_at) == (
        date(2025, 7, 1), "b.csv", civil_b.pk, None, first[li.id_number].created_at)
    assert (now[wang.id_number].pk, now[wang.id_number].removed_by_id, now[wang.id_number].source) == (
        first[wang.id_number].pk, civil_b.pk, "a.csv")
    assert now[wang.id_number].removed_at is not None
    assert (now[zhao.id_number].identity, now[zhao.id_number].certified_on, now[zhao.id_number].source) == (
        "monitored", date(2025, 8, 1), "b.csv")
    assert events.filter(pgh_label="insert").count() == 3 and events.filter(pgh_label="update").count() == 2

    c = imported([["李四", li.id_number, "dibao", "民政局", "2025-07-01"],
                  ["王五", wang.id_number, "tekun", "民政局", "2025-05-02"]], "c.csv")
    assert (c.new, c.updated, c.unchanged, c.removed) == (1, 0, 1, 0)
    back = AssistanceIdentity.objects.get(id_number=wang.id_number)
    civil_c = RosterImport.objects.get(file_name="c.csv")
    assert (back.pk, back.removed_at, back.removed_by_id, back.certified_on, back.source, back.roster_id) == (
        first[wang.id_number].pk, None, None, date(2025, 5, 2), "c.csv", civil_c.pk)
    assert AssistanceIdentity.objects.count() == 3
    assert events.filter(pgh_label="insert").count() == 3 and events.filter(pgh_label="update").count() == 3
