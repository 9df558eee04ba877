"""One scheme at a time on the bulk paths (issue 13): the residents import with 参保年度 and
default renewal ask the flexible app's set-based check (registered next to its single check)
and refuse whoever the flexible-employment scheme holds that year, with the single
registration's words — a row error of the file, a counted ``other_scheme`` of the run —
never a crash, nothing half-written.  The database is read afterwards."""

from __future__ import annotations

import json
from datetime import date
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from enrollment import services
from enrollment.imports import import_residents
from enrollment.imports import residents_write
from enrollment.models import Enrollment, ReregistrationNotice, Resident
from enrollment.renewal import renew_enrollments
from enrollment.services import EnrollmentError, other_scheme_refusals
from flexible.models import FlexibleEnrollment
from flexible.selectors import flexible_refusals_for_residents
from flexible.services import flexible_cancel, flexible_enroll

from .import_support import RESIDENT_HEADER, counts, csv_bytes
from .support import clone, paid_row, person, register, today_is

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("policies")]

DEC1 = date(2024, 12, 1)  # inside Xianyang's 2025 window (2024-09-20 .. 2024-12-20)
WITH_YEAR = [*RESIDENT_HEADER, "参保年度"]
REASON_2025 = ("已参加 2025 年度灵活就业人员医疗保险（已登记（待缴费）），同一时间只能参加一种医疗保险，"
               "不能再登记城乡居民医保")


def flex(resident, year=2025, today=DEC1):
    return flexible_enroll(resident=resident, year=year, person_status="in_service",
                           file_held_at="reemployment_centre", paid_previous_year=True, actor=None, today=today)


@pytest.fixture
def xianyang():
    """Three Xianyang residents on file; 王 is in the flexible scheme for 2025."""
    people = {
        "王": person("610402", "19700101", "011", name="王建国", today=DEC1),
        "李": person("610402", "19750202", "022", name="李秀兰", today=DEC1),
        "赵": person("610402", "19800303", "033", name="赵明", today=DEC1),
    }
    flex(people["王"])
    return people


def rows_of(people, year="2025"):
    return [[r.name, r.id_number, "本地", "无", "", "610400", year] for r in people]


# --- the set-based check --------------------------------------------------------------------


def test_the_set_based_check_answers_the_single_checks_reason_in_one_query(xianyang):
    wang, li, zhao = xianyang["王"], xianyang["李"], xianyang["赵"]
    with CaptureQueriesContext(connection) as queries:
        answer = flexible_refusals_for_residents([wang.pk, li.pk, zhao.pk], 2025)
    assert len(queries) == 1
    assert answer == {wang.pk: REASON_2025}
    assert flexible_refusals_for_residents([wang.pk], 2026) == {}
    # the hook registered by flexible at ready(), next to the single check
    assert flexible_refusals_for_residents in services._OTHER_SCHEME_CHECKS_MANY
    assert other_scheme_refusals([zhao.pk, wang.pk, wang.pk], 2025) == {wang.pk: REASON_2025}
    # the single path gives the same words
    with pytest.raises(EnrollmentError) as exc:
        register(wang, 2025, DEC1)
    assert (exc.value.code, exc.value.message) == ("other_scheme", REASON_2025)


def test_one_query_per_chunk(xianyang, monkeypatch):
    monkeypatch.setattr(services, "OTHER_SCHEME_CHUNK", 2)
    ids = [r.pk for r in xianyang.values()]
    with CaptureQueriesContext(connection) as queries:
        answer = other_scheme_refusals(ids, 2025)
    assert len(queries) == 2  # 3 people, 2 a chunk
    assert answer == {xianyang["王"].pk: REASON_2025}


def test_a_cancelled_flexible_enrollment_refuses_nobody(xianyang):
    wang = xianyang["王"]
    flexible_cancel(enrollment=FlexibleEnrollment.objects.get(resident=wang), reason="本人申请", actor=None)
    assert other_scheme_refusals([wang.pk], 2025) == {}


# --- the residents import -----------------------------------------------------------------


def test_the_import_rejects_the_file_with_the_reason_and_writes_nothing(xianyang):
    before = counts()
    data = csv_bytes(rows_of(xianyang.values()), header=WITH_YEAR)
    result = import_residents(data, "xy.csv", actor="tester", today=DEC1)
    assert result.rejected
    assert [(e.row, e.column, e.reason) for e in result.errors] == [
        (2, "参保年度", f"不能登记 2025 年度：{REASON_2025}")]
    assert result.as_dict()["invalid_rows"] == 1
    assert counts() == before
    assert not Enrollment.objects.exists()


def test_skip_invalid_registers_the_others_only(xianyang):
    data = csv_bytes(rows_of(xianyang.values()), header=WITH_YEAR)
    result = import_residents(data, "xy.csv", actor="tester", today=DEC1, skip_invalid=True)
    assert not result.rejected
    summary = result.as_dict()
    assert (summary["registered"], summary["invalid_rows"], summary["already_registered"]) == (2, 1, 0)
    assert sorted(Enrollment.objects.values_list("resident__name", "year", "status", "amount_due")) == [
        ("李秀兰", 2025, "registered", 400), ("赵明", 2025, "registered", 400)]
    assert FlexibleEnrollment.objects.get().resident_id == xianyang["王"].pk
    # a second import changes nothing and refuses the same person the same way
    again = import_residents(data, "xy.csv", actor="tester", today=DEC1, skip_invalid=True)
    assert (again.as_dict()["registered"], again.as_dict()["already_registered"]) == (0, 2)
    assert [(e.row, e.reason) for e in again.errors] == [(2, f"不能登记 2025 年度：{REASON_2025}")]
    assert Enrollment.objects.count() == 2


def test_the_command_reports_the_row_and_exits_1(xianyang, tmp_path):
    path = tmp_path / "xy.csv"
    path.write_bytes(csv_bytes(rows_of(xianyang.values()), header=WITH_YEAR))
    out, err = StringIO(), StringIO()
    with today_is(DEC1), pytest.raises(SystemExit) as exit_:
        call_command("import_residents", str(path), stdout=out, stderr=err)
    assert exit_.value.code == 1
    assert err.getvalue().splitlines()[0] == f"row 2: 参保年度: 不能登记 2025 年度：{REASON_2025}"
    assert json.loads(out.getvalue())["rejected"] is True
    assert not Enrollment.objects.exists()


def test_a_flexible_registration_made_while_the_file_was_read_is_refused_at_the_write(xianyang, monkeypatch):
    """The check again under lock: a person the flexible scheme took between the reading and
    the write is refused on the same row, and the write is rolled back whole (or, with
    跳过错误行, done without that row)."""
    li = xianyang["李"]
    original = residents_write.write_residents
    taken = []

    def write_after_flexible_took_li(*args, **kwargs):
        if not taken:
            taken.append(flex(li))
        return original(*args, **kwargs)

    monkeypatch.setattr(residents_write, "write_residents", write_after_flexible_took_li)
    people = [xianyang["李"], xianyang["赵"]]
    data = csv_bytes(rows_of(people), header=WITH_YEAR)
    result = import_residents(data, "xy.csv", actor="tester", today=DEC1)
    reason = REASON_2025.replace("王建国", "李秀兰")
    assert result.rejected
    assert [(e.row, e.column, e.reason) for e in result.errors] == [(2, "参保年度", f"不能登记 2025 年度：{reason}")]
    assert not Enrollment.objects.exists()

    result = import_residents(data, "xy.csv", actor="tester", today=DEC1, skip_invalid=True)
    assert [(e.row, e.reason) for e in result.errors] == [(2, f"不能登记 2025 年度：{reason}")]
    assert list(Enrollment.objects.values_list("resident__name", flat=True)) == ["赵明"]


def test_people_new_to_the_file_are_not_asked(xianyang):
    from enrollment.idnumbers import make_number

    newcomer = ["孙新", make_number("61040219900101015"), "本地", "无", "", "610400", "2025"]
    data = csv_bytes([newcomer], header=WITH_YEAR)
    result = import_residents(data, "new.csv", actor="tester", today=DEC1)
    assert (result.rejected, result.as_dict()["registered"]) == (False, 1)
    assert Resident.objects.get(id_number=newcomer[1]).enrollments.get().year == 2025


# --- default renewal -------------------------------------------------------------------


@pytest.fixture
def renewing():
    """Three Xianyang residents paid for 2025; 王 joined the flexible scheme for 2026."""
    clone("610400", 2025, 2026)
    people = {
        "王": person("610402", "19700101", "011", name="王建国", today=DEC1),
        "李": person("610402", "19750202", "022", name="李秀兰", today=DEC1),
        "赵": person("610402", "19800303", "033", name="赵明", today=DEC1),
    }
    for r in people.values():
        paid_row(r, 2025)
    flex(people["王"], year=2026, today=date(2025, 11, 1))
    return people


def test_renewal_counts_the_person_in_the_other_scheme_and_lists_why(renewing):
    summary = renew_enrollments(region="610400", to_year=2026, actor=None, today=date(2025, 11, 1))
    assert summary["renewed"] == 2
    assert summary["unchanged"] == 0
    assert summary["reregister"]["other_scheme"] == 1
    assert sum(summary["reregister"].values()) == 1
    assert sorted(Enrollment.objects.filter(year=2026).values_list("resident__name", "registered_via")) == [
        ("李秀兰", "default_renewal"), ("赵明", "default_renewal")]
    notice = ReregistrationNotice.objects.get()
    assert (notice.resident_id, notice.region_id, notice.year, notice.reason, notice.detail) == (
        renewing["王"].pk, "610400", 2026, "other_scheme",
        "已参加 2026 年度灵活就业人员医疗保险（已登记（待缴费）），同一时间只能参加一种医疗保险，不能再登记城乡居民医保")
    assert notice.get_reason_display() == "已参加其他医疗保险（同一时间只能参加一种）"
    # again: nobody renewed twice, the notice stays one
    again = renew_enrollments(region="610400", to_year=2026, actor=None, today=date(2025, 11, 1))
    assert (again["renewed"], again["unchanged"], again["reregister"]["other_scheme"]) == (0, 2, 1)
    assert ReregistrationNotice.objects.count() == 1
    assert Enrollment.objects.filter(year=2026).count() == 2


def test_the_command_and_the_batch_run_carry_the_count(renewing):
    out = StringIO()
    with today_is(date(2025, 11, 1)):
        call_command("renew_enrollments", region="610400", to_year=2026, stdout=out)
    summary = json.loads(out.getvalue())
    assert (summary["renewed"], summary["reregister"]["other_scheme"]) == (2, 1)
    from core.models import BatchRun

    run = BatchRun.objects.get(kind="renew_enrollments")
    assert run.summary["reregister"]["other_scheme"] == 1
    assert run.failed == 1
