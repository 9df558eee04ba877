"""import_roster: matching, highest wins, replacement by department, dynamic adjustment,
pending identities — each read back from the database."""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from decimal import Decimal

import pytest
from django.core.management import call_command

from enrollment.models import Enrollment
from enrollment.tests.support import number, person, register, register_and_pay
from subsidies.models import AssistanceIdentity, OwedRefund, RosterChange, RosterImport
from subsidies.roster import import_roster

pytestmark = pytest.mark.usefixtures("policies")

HEADER = ["姓名", "身份证号码", "困难类别", "认定部门", "认定日期"]
NOV = date(2025, 11, 10)  # Lüliang's window is open (2025-10-21 … 2026-02-25)


def roster(rows, header=HEADER, encoding="utf-8") -> bytes:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(header)
    w.writerows(rows)
    return out.getvalue().encode(encoding)


def run(rows, *, region="141100", year=2026, today=NOV, **kw):
    return import_roster(roster(rows), "名单.csv", region=region, year=year, today=today,
                         actor="test", **kw)


def active(**filters):
    return AssistanceIdentity.objects.filter(removed_at__isnull=True, **filters)


def test_a_roster_matches_residents_reprices_unpaid_and_keeps_the_unregistered_pending():
    li = person("141102", "19800501", name="李四")
    e = register(li, 2026, NOV)
    assert e.amount_due == Decimal("400.00")
    stranger = number("141102", "19700101", "011")
    result = run([["李四", li.id_number, "低保对象", "吕梁市民政局", "2025-06-01"],
                  ["王五", stranger, "特困人员", "民政局", "2025-05-01"]])
    assert result.as_dict() == {"rows": 2, "new": 2, "unchanged": 0, "removed": 0, "invalid_rows": 0,
                                "pending": 1, "rejected": False, "updated": 0, "repriced": 1,
                                "refunds_owed": 0}
    e.refresh_from_db()
    assert (e.amount_due, e.assistance_identity, e.assistance_amount) == (Decimal("80.00"), "dibao",
                                                                          Decimal("320.00"))
    ids = {(a.id_number, a.identity, a.department, a.certified_on) for a in active()}
    assert ids == {(li.id_number, "dibao", "civil_affairs", date(2025, 6, 1)),
                   (stranger, "tekun", "civil_affairs", date(2025, 5, 1))}
    imp = RosterImport.objects.get()
    assert (imp.region_id, imp.year, imp.department, imp.rows, imp.new, imp.pending, imp.repriced) == (
        "141100", 2026, "civil_affairs", 2, 2, 1, 1)
    assert sorted(RosterChange.objects.values_list("id_number", "change")) == sorted(
        [(li.id_number, "new"), (stranger, "new")])


def test_the_same_file_again_changes_nothing():
    li = person("141102", "19800501", name="李四")
    rows = [["李四", li.id_number, "dibao", "民政局", "2025-06-01"]]
    run(rows)
    events = AssistanceIdentity.pgh_event_model.objects.count()
    again = run(rows)
    assert (again.new, again.unchanged, again.removed, again.repriced) == (0, 1, 0, 0)
    assert AssistanceIdentity.pgh_event_model.objects.count() == events
    assert AssistanceIdentity.objects.count() == 1


def test_a_corrected_roster_replaces_the_departments_list_and_reprices_back():
    li = person("141102", "19800501", name="李四")
    wang = person("141102", "19750301", "021", name="王五")
    e = register(li, 2026, NOV)
    run([["李四", li.id_number, "低保", "民政局", "2025-06-01"]])
    # The rural revitalisation centre's list is another department's: untouched by civil affairs.
    run([["李四", li.id_number, "监测对象", "乡村振兴发展中心", "2025-07-01"]])
    result = run([["王五", wang.id_number, "特困供养人员", "民政局", "2025-08-01"]])
    assert (result.new, result.unchanged, result.removed) == (1, 0, 1)
    gone = AssistanceIdentity.objects.get(id_number=li.id_number, identity="dibao")
    assert gone.removed_at is not None and gone.removed_by_id == RosterImport.objects.order_by("-id")[0].pk
    assert active(id_number=li.id_number).get().identity == "monitored"
    e.refresh_from_db()
    assert (e.amount_due, e.assistance_identity) == (Decimal("120.00"), "monitored")
    removed = RosterChange.objects.get(change="removed")
    assert (removed.id_number, removed.identity) == (li.id_number, "dibao")
    # Back on the list: the same row comes back, counted as new.
    back = run([["王五", wang.id_number, "特困供养人员", "民政局", "2025-08-01"],
                ["李四", li.id_number, "低保", "民政局", "2025-06-01"]])
    assert (back.new, back.unchanged, back.removed) == (1, 1, 0)
    assert AssistanceIdentity.objects.filter(id_number=li.id_number, identity="dibao").count() == 1
    e.refresh_from_db()
    assert (e.amount_due, e.assistance_identity) == (Decimal("80.00"), "dibao")


def test_highest_single_assistance_wins_across_rosters():
    li = person("141102", "19800501", name="李四")
    e = register(li, 2026, NOV)
    run([["李四", li.id_number, "低保对象", "民政局", "2025-06-01"]])
    run([["李四", li.id_number, "监测对象", "乡村振兴局", "2025-06-01"],
         ["李四", li.id_number, "返贫致贫人口", "乡村振兴局", "2025-06-01"]])
    e.refresh_from_db()
    assert (e.assistance_identity, e.assistance_amount, e.amount_due) == ("returned_poverty", Decimal("360.00"),
                                                                         Decimal("40.00"))


def test_another_regions_roster_does_not_count_here_and_a_county_counts_with_its_city():
    li = person("141102", "19800501", name="李四")  # Lüliang resident
    e = register(li, 2026, NOV)
    ningbo = run([["李四", li.id_number, "dibao", "民政局", "2024-06-01"]], region="330200", year=2025)
    assert ningbo.pending == 1  # not matched: Ningbo has no such resident
    e.refresh_from_db()
    assert e.amount_due == Decimal("400.00")
    xiaoyi = run([["李四", li.id_number, "dibao", "孝义市民政局", "2025-06-01"]], region="141181")
    assert (xiaoyi.pending, xiaoyi.repriced) == (0, 1)
    e.refresh_from_db()
    assert e.amount_due == Decimal("80.00")


def test_dynamic_adjustment_inside_the_window_owes_the_assistance_part_back():
    li = person("141102", "19800501", name="李四")
    e = register_and_pay(li, 2026, NOV, NOV, "400.00")
    result = run([["李四", li.id_number, "低保对象", "民政局", "2025-12-01"]], today=date(2025, 12, 5))
    assert (result.refunds_owed, result.repriced) == (1, 0)
    owed = OwedRefund.objects.get()
    assert (owed.enrollment_id, owed.amount, owed.paid_amount, owed.due_with_assistance, owed.identity,
            owed.status) == (e.pk, Decimal("320.00"), Decimal("400.00"), Decimal("80.00"), "dibao", "owed")
    e.refresh_from_db()
    assert (e.status, e.paid_amount) == ("paid", Decimal("400.00"))  # the payment itself stands
    # A higher identity raises what is owed; the department's removal withdraws it.
    run([["李四", li.id_number, "特困人员", "民政局", "2025-12-02"]], today=date(2025, 12, 6))
    owed.refresh_from_db()
    assert (owed.amount, owed.identity, owed.status) == (Decimal("400.00"), "tekun", "owed")
    run([["某", number("141102", "19600101", "031"), "特困人员", "民政局", "2025-12-02"]],
        today=date(2025, 12, 7))
    owed.refresh_from_db()
    assert owed.status == "cancelled"


def test_dynamic_adjustment_after_the_window_owes_nothing():
    li = person("141102", "19800501", name="李四")
    register_and_pay(li, 2026, NOV, NOV, "400.00")
    result = run([["李四", li.id_number, "低保对象", "民政局", "2026-03-01"]], today=date(2026, 3, 5))
    assert result.refunds_owed == 0
    assert not OwedRefund.objects.exists()
    assert active(id_number=li.id_number).count() == 1


def test_dynamic_adjustment_only_where_the_policy_says_so():
    ning = person("330203", "19800101", name="甲")
    register_and_pay(ning, 2025, date(2024, 11, 1), date(2024, 11, 1), "780.00")
    result = run([["甲", ning.id_number, "低保", "民政局", "2024-11-20"]], region="330200", year=2025,
                 today=date(2024, 11, 25))
    assert (result.new, result.refunds_owed) == (1, 0)
    assert not OwedRefund.objects.exists()


def test_a_pending_identity_applies_when_the_person_registers_late_without_waiting():
    stranger = number("141102", "19700101", "011")
    run([["王五", stranger, "低保对象", "民政局", "2025-06-01"]], today=date(2026, 3, 1))
    wang = person("141102", "19700101", "011", name="王五", today=date(2026, 3, 10))
    e = register(wang, 2026, date(2026, 3, 10))  # after the window (ended 2026-02-25)
    assert (e.amount_due, e.assistance_identity, e.timing, e.waiting_months) == (
        Decimal("80.00"), "dibao", "exempt", 0)


def test_the_command_prints_the_summary_and_rejects_a_faulty_file(tmp_path, capsys):
    li = person("141102", "19800501", name="李四")
    good = tmp_path / "ok.csv"
    good.write_bytes(roster([["李四", li.id_number, "低保对象", "民政局", "2025-06-01"]]))
    call_command("import_roster", str(good), region="141100", year=2026)
    out = json.loads(capsys.readouterr().out)
    assert out == {"rows": 1, "new": 1, "unchanged": 0, "removed": 0, "invalid_rows": 0, "pending": 0,
                   "rejected": False, "updated": 0, "repriced": 0, "refunds_owed": 0}
    bad = tmp_path / "bad.csv"
    bad.write_bytes(roster([["李四", li.id_number, "低保对象", "乡村振兴局", "2025-06-01"],
                            ["赵六", number("141102", "19650101", "041"), "低保对象", "民政局", "2025-06-01"]]))
    with pytest.raises(SystemExit) as exit_:
        call_command("import_roster", str(bad), region="141100", year=2026)
    assert exit_.value.code == 1
    captured = capsys.readouterr()
    assert json.loads(captured.out)["rejected"] is True
    assert "row 2: 认定部门: “低保对象”由民政部门认定（吕梁市政策），收到 '乡村振兴局'" in captured.err
    assert AssistanceIdentity.objects.count() == 1  # nothing of the rejected file written
    assert RosterImport.objects.count() == 1


def test_the_quote_and_the_enrollment_agree_on_assistance_for_the_same_person_and_date(capsys):
    li = person("141102", "19800501", name="李四")
    run([["李四", li.id_number, "低保对象", "民政局", "2025-06-01"],
         ["李四", li.id_number, "特困人员", "民政局", "2025-07-01"]])
    run([["李四", li.id_number, "监测对象", "乡村振兴局", "2025-06-01"]])
    e = register(li, 2026, NOV)
    request = {"region": "141100", "year": 2026, "paid_on": NOV.isoformat(),
               "person": {"birth_date": "1980-05-01"},
               "identities": [{"code": "dibao", "certified_on": "2025-06-01"},
                              {"code": "tekun", "certified_on": "2025-07-01"},
                              {"code": "monitored", "certified_on": "2025-06-01"}]}
    call_command("quote", json=json.dumps(request))
    answer = json.loads(capsys.readouterr().out)
    assert answer["assistance"] == {"identity": "tekun", "amount": "400.00"}
    assert (e.assistance_identity, f"{e.assistance_amount:.2f}", f"{e.amount_due:.2f}") == (
        answer["assistance"]["identity"], answer["assistance"]["amount"], answer["amount_due"])
    assert answer["amount_due"] == "0.00"


def test_a_county_bureau_under_the_citys_code_is_refused_and_the_citys_list_stands():
    wang = number("141102", "19520308", "011")
    run([["王芳", wang, "低保对象", "吕梁市民政局", "2025-06-01"]])
    liu = number("141181", "19520308", "011")
    result = run([["刘强", liu, "低保对象", "孝义市民政局", "2025-06-01"]])
    assert [str(e) for e in result.errors] == [
        "row 2: 认定部门: '孝义市民政局' 是孝义市的部门，其名单应以地区 141181（孝义市）导入"]
    assert result.rejected
    assert active(id_number=wang).count() == 1
    ok = run([["刘强", liu, "低保对象", "孝义市民政局", "2025-06-01"]], region="141181")
    assert (ok.new, ok.removed) == (1, 0)
    assert active(id_number=wang).count() == 1  # the city's list is the city bureau's


def test_skipping_faulty_rows_removes_nobody_from_the_department_list():
    li = person("141102", "19800501", name="李四")
    wang = person("141102", "19750301", "021", name="王五")
    run([["李四", li.id_number, "低保", "民政局", "2025-06-01"],
         ["王五", wang.id_number, "低保", "民政局", "2025-06-01"]])
    typo = wang.id_number[:-1] + ("0" if wang.id_number[-1] != "0" else "1")
    result = run([["李四", li.id_number, "低保", "民政局", "2025-06-01"],
                  ["王五", typo, "低保", "民政局", "2025-06-01"]], skip_invalid=True)
    assert (result.unchanged, result.removed, result.as_dict()["invalid_rows"]) == (1, 0, 1)
    assert result.warnings == ["名单中有被跳过的错误行，本次不移出原名单中的任何人员；请修正后重新导入完整名单"]
    assert active(id_number=wang.id_number).count() == 1
