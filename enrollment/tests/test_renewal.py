"""Default renewal (默认续保): command, service, batch record, Celery tasks, audit."""

import json
from datetime import date
from decimal import Decimal
from io import StringIO

import pytest
from django.apps import apps
from django.core.management import CommandError, call_command

from core.models import BatchRun
from enrollment.models import EmployeeCoverage, Enrollment, ReregistrationNotice
from enrollment.renewal import renew_enrollments
from enrollment.services import enrollment_cancel, enrollment_record_payment, resident_update
from enrollment.tasks import renew_region, schedule_renewals
from subsidies.models import AssistanceIdentity

from .support import clone, person, register, register_and_pay, today_is

pytestmark = pytest.mark.usefixtures("policies")

NB_REG, NB_PAID = date(2024, 11, 1), date(2024, 12, 1)


def renew(region, to_year, on):
    out = StringIO()
    with today_is(on):
        call_command("renew_enrollments", region=region, to_year=to_year, stdout=out)
    return json.loads(out.getvalue())


def summary(renewed, unchanged, **reasons):
    reregister = {r: 0 for r in ("hukou_moved", "permit_expired", "category_changed", "graduated",
                                 "parent_permit", "not_eligible", "value_not_in_source", "other_scheme")}
    reregister.update(reasons)
    return {"renewed": renewed, "unchanged": unchanged, "reregister": reregister}


@pytest.fixture
def ningbo():
    """Ningbo residents paid for 2025, then changed in the ways that decide renewal into 2026."""
    clone("330200", 2025, 2026)
    p = {}

    def paid(key, birth, seq, amount, **fields):
        r = person("330203", birth, seq, name=key, today=NB_REG, **fields)
        via_parent = fields.get("hukou") == "nonlocal" and not fields.get("residence_permit")
        e = register(r, 2025, NB_REG, via_parent_permit=via_parent)
        enrollment_record_payment(enrollment=e, amount=Decimal(amount), paid_on=NB_PAID, paid_via="channel",
                                  actor=None)
        p[key] = r
        return r

    paid("adult", "19800101", "011", "780.00")
    paid("infant", "20210601", "021", "630.00")
    paid("infant_to_minor", "20190601", "031", "630.00")
    paid("pupil_to_college", "20070101", "041", "290.00", student="primary_secondary")
    paid("graduate", "20030101", "051", "180.00", student="college")
    paid("moved", "19700101", "061", "780.00")
    paid("permit_expired", "19750101", "071", "780.00", hukou="nonlocal", residence_permit=True,
         residence_permit_expires_on=date(2025, 6, 30))
    paid("parent_permit", "20240901", "081", "630.00", hukou="nonlocal")
    paid("own_permit_now", "20240915", "091", "630.00", hukou="nonlocal")
    paid("employee", "19850101", "101", "780.00")
    paid("already", "19900101", "111", "780.00")

    later = date(2025, 9, 1)
    resident_update(resident=p["pupil_to_college"], actor=None, today=later, student="college")
    resident_update(resident=p["graduate"], actor=None, today=later, student="")
    resident_update(resident=p["moved"], actor=None, today=later, region="630100")
    resident_update(resident=p["own_permit_now"], actor=None, today=later, residence_permit=True,
                    residence_permit_expires_on=date(2027, 12, 31))
    EmployeeCoverage.objects.create(id_number=p["employee"].id_number, name="employee", region_code="330200",
                                    year=2026)
    p["already_2026"] = register(p["already"], 2026, date(2025, 10, 25))

    # not candidates: cancelled, registered but unpaid, another region
    e = register(person("330203", "19800101", "121", name="cancelled", today=NB_REG), 2025, NB_REG)
    enrollment_cancel(enrollment=e, reason="重复登记", actor=None)
    register(person("330203", "19800101", "131", name="unpaid", today=NB_REG), 2025, NB_REG)
    register_and_pay(person("630102", "19800101", "141", name="xining", today=NB_REG), 2025, NB_REG,
                     NB_PAID, "400.00")
    return p


EXPECTED_NINGBO = summary(3, 1, hukou_moved=1, permit_expired=1, category_changed=2, graduated=1,
                          parent_permit=1, not_eligible=1)


def test_ningbo_renewal_summary_and_rows(ningbo):
    assert renew("330200", 2026, date(2025, 11, 3)) == EXPECTED_NINGBO

    rows = {e.resident.name: e for e in Enrollment.objects.filter(year=2026).select_related("resident")}
    assert sorted(rows) == ["adult", "already", "infant", "own_permit_now"]
    adult = rows["adult"]
    assert (adult.status, adult.registered_via, adult.category, adult.amount_due, adult.personal_standard,
            adult.fiscal_subsidy, adult.timing, adult.region_id, adult.registered_by) == (
        "registered", "default_renewal", "adult", Decimal("780.00"), Decimal("780.00"), Decimal("2090.00"),
        "window", "330200", None)
    assert (adult.paid_amount, adult.benefit_start, adult.cancel_reason) == (None, None, "")
    assert (rows["infant"].category, rows["infant"].amount_due) == ("infant", Decimal("630.00"))
    # a non-local infant now on their own valid permit is renewed, no longer on a parent's permit
    own = rows["own_permit_now"]
    assert (own.category, own.amount_due, own.nonlocal_via_parent_permit) == ("infant", Decimal("630.00"), False)
    assert rows["already"].pk == ningbo["already_2026"].pk and rows["already"].registered_via == "community"

    notices = {n.resident.name: (n.reason, n.detail, n.region_id, n.year)
               for n in ReregistrationNotice.objects.select_related("resident")}
    assert notices == {
        "infant_to_minor": ("category_changed", "infant → minor", "330200", 2026),
        "pupil_to_college": ("category_changed", "student → college", "330200", 2026),
        "graduate": ("graduated", "college → adult", "330200", 2026),
        "moved": ("hukou_moved", "现参保地 630100", "330200", 2026),  # filed where they left
        "permit_expired": ("permit_expired", "居住证有效期至 2025-06-30", "330200", 2026),
        "parent_permit": ("parent_permit", "", "330200", 2026),
        "employee": ("not_eligible", "已参加职工医保", "330200", 2026),
    }

    run = BatchRun.objects.get()
    assert (run.kind, run.scope, run.params, run.status, run.summary) == (
        "renew_enrollments", "330200-2026",
        {"region": "330200", "to_year": 2026, "today": "2025-11-03", "actor": "manage.py renew_enrollments"},
        "done", EXPECTED_NINGBO)
    assert (run.total, run.processed, run.succeeded, run.failed) == (11, 11, 3, 7)
    assert (run.chunks_total, run.chunks_done) == (1, 1)
    assert list(run.chunks.values_list("status", "attempts")) == [("done", 1)]
    assert run.started_at is not None and run.finished_at >= run.started_at


def test_ningbo_renewal_twice_renews_nobody_twice(ningbo):
    renew("330200", 2026, date(2025, 11, 3))
    first = sorted(Enrollment.objects.filter(year=2026).values_list("id", "resident_id"))
    notices = ReregistrationNotice.objects.count()
    again = renew("330200", 2026, date(2025, 11, 4))
    assert again == summary(0, 4, hukou_moved=1, permit_expired=1, category_changed=2, graduated=1,
                            parent_permit=1, not_eligible=1)
    assert sorted(Enrollment.objects.filter(year=2026).values_list("id", "resident_id")) == first
    assert ReregistrationNotice.objects.count() == notices == 7
    assert list(BatchRun.objects.order_by("id").values_list("status", "succeeded")) == [("done", 3), ("done", 0)]


def test_renewed_enrollment_is_paid_like_any_other(ningbo):
    renew("330200", 2026, date(2025, 11, 3))
    e = Enrollment.objects.get(year=2026, resident=ningbo["adult"])
    enrollment_record_payment(enrollment=e, amount=Decimal("780.00"), paid_on=date(2025, 12, 1),
                              paid_via="channel", actor=None)
    e.refresh_from_db()
    assert (e.status, e.benefit_start, e.benefit_end, e.waiting_months, e.cap_adjustment) == (
        "paid", date(2026, 1, 1), date(2026, 12, 31), 0, None)


def test_renewal_inserts_are_audited_one_event_per_enrollment(ningbo):
    renew("330200", 2026, date(2025, 11, 3))
    event = apps.get_model("enrollment", "EnrollmentEvent")
    inserts = event.objects.filter(pgh_label="insert", year=2026, registered_via="default_renewal")
    assert inserts.count() == 3
    assert sorted(inserts.values_list("pgh_obj_id", flat=True)) == sorted(
        Enrollment.objects.filter(year=2026, registered_via="default_renewal").values_list("id", flat=True))
    for ev in inserts.select_related("pgh_context"):
        assert ev.pgh_context.metadata["action"] == "renew_enrollments"
        assert ev.pgh_context.metadata["actor"] == "manage.py renew_enrollments"
        assert ev.pgh_context.metadata["region"] == "330200"
        assert ev.pgh_context.metadata["year"] == 2026


def test_lueliang_renewal_includes_xiaoyi_and_prices_assistance():
    clone("141100", 2026, 2027)
    reg, paid_on = date(2025, 11, 3), date(2025, 11, 20)
    xiaoyi = person("141181", "19850101", "011", name="孝义居民")
    lueliang = person("141102", "19700101", "021", name="吕梁低保")
    baby = person("141181", "20260305", "031", name="新生儿", today=date(2026, 3, 20))
    register_and_pay(xiaoyi, 2026, reg, paid_on, "400.00")
    register_and_pay(lueliang, 2026, reg, paid_on, "400.00")
    register(baby, 2026, date(2026, 3, 20), via="newborn")  # free in the birth year, paid at once
    AssistanceIdentity.objects.create(id_number=lueliang.id_number, name=lueliang.name, region_id="141100",
                                      year=2027, identity="dibao", certified_on=date(2026, 6, 1))

    # the 27th: no payments that day, but renewal (a registration) goes ahead
    assert renew("141100", 2027, date(2026, 11, 27)) == summary(3, 0)
    got = {e.resident.name: (e.region_id, e.category, e.amount_due, e.assistance_identity, e.timing, e.status)
           for e in Enrollment.objects.filter(year=2027).select_related("resident")}
    assert got == {
        "孝义居民": ("141181", "resident", Decimal("400.00"), "", "window", "registered"),
        "吕梁低保": ("141100", "resident", Decimal("80.00"), "dibao", "window", "registered"),
        "新生儿": ("141181", "resident", Decimal("400.00"), "", "window", "registered"),
    }
    assert renew("141100", 2027, date(2026, 11, 28)) == summary(0, 3)


def test_renewal_of_a_county_is_run_with_its_city():
    clone("141100", 2026, 2027)
    with pytest.raises(CommandError, match="141100"):
        call_command("renew_enrollments", region="141181", to_year=2027, stdout=StringIO())
    with pytest.raises(CommandError, match="2040"):
        call_command("renew_enrollments", region="330200", to_year=2040, stdout=StringIO())
    assert not BatchRun.objects.exists()  # refused before a run is recorded


def test_shanghai_renewal_value_not_in_source():
    clone("310000", 2025, 2026)  # 2027 is a published clone already (conftest)
    reg, paid_on = date(2025, 11, 1), date(2025, 12, 1)
    stays = person("310101", "20120101", "011", name="小学生", student="primary_secondary")
    left = person("310101", "20080101", "021", name="离校", student="primary_secondary")
    college = person("310101", "20070101", "031", name="升大学", student="primary_secondary")
    for r in (stays, left, college):
        register_and_pay(r, 2026, reg, paid_on, "355.00")
    resident_update(resident=left, actor=None, today=date(2026, 9, 1), student="")
    resident_update(resident=college, actor=None, today=date(2026, 9, 1), student="college")

    assert renew("310000", 2027, date(2026, 11, 3)) == summary(1, 0, category_changed=1, value_not_in_source=1)
    assert Enrollment.objects.get(year=2027).resident == stays
    assert ReregistrationNotice.objects.get(resident=left).reason == "value_not_in_source"


def test_renewal_service_reports_progress_in_chunks(ningbo):
    seen = []
    out = renew_enrollments(region="330200", to_year=2026, today=date(2025, 11, 3), chunk_size=4,
                            progress=lambda done, total: seen.append((done, total)))
    assert out == EXPECTED_NINGBO
    assert seen == [(4, 11), (8, 11), (11, 11)]


# --- Celery ------------------------------------------------------------------------------------


def test_renew_region_task_starts_a_run_on_the_engine(ningbo, django_capture_on_commit_callbacks):
    with today_is(date(2025, 11, 3)), django_capture_on_commit_callbacks(execute=False) as callbacks:
        run_id = renew_region.apply(args=("330200", 2026)).get()
    run = BatchRun.objects.get()
    assert run_id == run.pk and len(callbacks) == 1  # batch_start sent once the run is committed
    assert (run.status, run.scope, run.params["today"]) == ("queued", "330200-2026", "2025-11-03")
    # a second start while it is queued joins it: one run, nothing more sent
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert renew_region.apply(args=("330200", 2026)).get() == run.pk
    assert callbacks == [] and BatchRun.objects.count() == 1


def test_renewal_again_keeps_a_caseworkers_cancellation(ningbo):
    """Finding 3: renew, cancel with a reason, renew again: the cancellation stands."""
    renew("330200", 2026, date(2025, 11, 3))
    adult = Enrollment.objects.get(year=2026, resident=ningbo["adult"])
    enrollment_cancel(enrollment=adult, reason="本人申请不参保", actor=None)
    again = renew("330200", 2026, date(2025, 11, 4))
    assert again == summary(0, 4, hukou_moved=1, permit_expired=1, category_changed=2, graduated=1,
                            parent_permit=1, not_eligible=1)
    assert list(Enrollment.objects.filter(year=2026, resident=ningbo["adult"]).values_list(
        "status", "cancel_reason")) == [("cancelled", "本人申请不参保")]


def test_schedule_renewals_catches_up_on_a_missed_opening_day(django_capture_on_commit_callbacks):
    clone("330200", 2025, 2026)  # registration opens 2025-10-21, as does Lüliang 2026
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert schedule_renewals.apply(kwargs={"today": "2025-10-20"}).get() == ["330200-2025", "610400-2025", "630100-2025"]
    assert len(callbacks) == 3  # the 2025 years opened in 2024 and were never renewed
    # the scheduler was down on 2025-10-21: the next day it starts both
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        started = schedule_renewals.apply(kwargs={"today": "2025-10-23"}).get()
    assert sorted(started) == ["141100-2026", "330200-2026"]
    assert len(callbacks) == 2
    assert sorted((r.scope, r.status, r.params["today"]) for r in BatchRun.objects.all()) == [
        ("141100-2026", "queued", "2025-10-23"), ("330200-2025", "queued", "2025-10-20"),
        ("330200-2026", "queued", "2025-10-23"), ("610400-2025", "queued", "2025-10-20"),
        ("630100-2025", "queued", "2025-10-20")]
    assert not BatchRun.objects.filter(scope__startswith="141181").exists()  # counties go with the city

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert schedule_renewals.apply(kwargs={"today": "2025-10-24"}).get() == []
    assert callbacks == []

    # queued, running or done: not started again; a failed run is started again
    BatchRun.objects.filter(scope="330200-2026").update(status="done")
    BatchRun.objects.filter(scope="141100-2026").update(status="failed")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert schedule_renewals.apply(kwargs={"today": "2025-11-01"}).get() == ["141100-2026"]
    assert len(callbacks) == 1
    assert BatchRun.objects.filter(scope="141100-2026", status="queued").count() == 1
    # after the benefit year has ended nothing is caught up any more
    BatchRun.objects.update(status="failed")
    assert schedule_renewals.apply(kwargs={"today": "2027-01-01"}).get() == []


def test_a_later_renewal_withdraws_the_notice_it_no_longer_needs(ningbo):
    """A permit renewed after the first run: the next run renews the person and the notice
    asking them to register again goes (hostile review)."""
    assert renew("330200", 2026, date(2025, 11, 3)) == EXPECTED_NINGBO
    expired = ningbo["permit_expired"]
    assert ReregistrationNotice.objects.filter(resident=expired, year=2026, reason="permit_expired").exists()
    resident_update(resident=expired, actor=None, today=date(2025, 11, 4),
                    residence_permit_expires_on=date(2027, 6, 30))
    assert renew("330200", 2026, date(2025, 11, 5)) == summary(1, 4, hukou_moved=1, category_changed=2,
                                                               graduated=1, parent_permit=1, not_eligible=1)
    assert Enrollment.objects.filter(resident=expired, year=2026, registered_via="default_renewal").exists()
    assert not ReregistrationNotice.objects.filter(resident=expired, year=2026).exists()
    assert ReregistrationNotice.objects.filter(year=2026).count() == 6  # the others stand
