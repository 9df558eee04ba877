"""Zero-claim years by list (issue 13, 004 (一)Q1): the command ``import_zero_claims`` and the
service under it — header found below a title row, every bad row in Chinese, all-or-nothing
unless --skip-invalid, a re-import changing nothing, audited with who and when, caseworkers
only for their regions — and the correction and withdrawal of a record with a reason.  The
database is read after each act."""

from __future__ import annotations

import json
from datetime import date
from io import StringIO

import pytest
from django.core.management import call_command
from pghistory.models import Context

from core.models import BatchRun
from enrollment.imports.zero_claims import import_zero_claims
from enrollment.models import ZeroClaimYear
from enrollment.selectors import coverage_history
from enrollment.services import EnrollmentError
from enrollment.zero_claims import zero_claim_correct, zero_claim_record, zero_claim_withdraw

from .import_support import csv_bytes
from .support import caseworker, number, paid_row, person, register, today_is

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("policies")]

TODAY = date(2026, 11, 30)
HEADER = ["身份证号码", "姓名", "年度", "依据"]
CHECK_DIGIT = "身份证号码校验位不正确"
_GOOD = number("310101", "19900101", "077")
BAD_CHECK_DIGIT = _GOOD[:17] + ("1" if _GOOD[17] != "1" else "2")


@pytest.fixture
def people():
    """Shanghai residents paid for 2025 (钱, 孙), one registered and unpaid (周), one of Xining (吴)."""
    out = {
        "钱": person("310101", "19800501", "011", name="钱零报", today=TODAY),
        "孙": person("310101", "19810601", "022", name="孙二", today=TODAY),
        "周": person("310101", "19820701", "033", name="周未缴", today=TODAY),
        "吴": person("630102", "19830801", "044", name="吴西宁", today=TODAY),
    }
    for key in ("钱", "孙", "吴"):
        paid_row(out[key], 2025)
    paid_row(out["周"], 2024)
    return out


def data(rows, header=HEADER, title=True) -> bytes:
    raw = csv_bytes(rows, header=header)
    return ("上海市医保结算系统 2025 年度零报销名单\n".encode() + raw) if title else raw


def stored():
    return sorted(ZeroClaimYear.objects.values_list("resident__name", "year", "source", "recorded_by_id"))


def test_a_good_list_is_written_with_a_title_row_above_the_header(people):
    user = caseworker("cw310", "310000")
    rows = [[people["钱"].id_number, "钱零报", "2025", "结算系统 2025 名单"],
            [people["孙"].id_number.lower().replace("x", "x"), " 孙二 ", "", ""]]
    result = import_zero_claims(data(rows), "零报销.csv", region="310000", year=2025, actor=user, user=user,
                                today=TODAY)
    assert result.as_dict() == {"rows": 2, "created": 2, "unchanged": 0, "repriced": 0, "invalid_rows": 0,
                                "rejected": False}
    assert stored() == [("孙二", 2025, "零报销名单导入：零报销.csv", user.pk),
                        ("钱零报", 2025, "结算系统 2025 名单", user.pk)]
    assert coverage_history(people["钱"]) == {2025: "resident_zero_claim"}
    events = ZeroClaimYear.pgh_event_model.objects.filter(pgh_label="insert").select_related("pgh_context")
    assert {(e.pgh_context.metadata["action"], e.pgh_context.metadata["user"]) for e in events} == {
        ("import_zero_claims", user.pk)}
    # a re-import changes nothing and leaves no trace in the audit trail
    contexts = Context.objects.count()
    again = import_zero_claims(data(rows), "零报销.csv", region="310000", year=2025, actor=user, user=user,
                               today=TODAY)
    assert (again.created, again.unchanged, again.rejected) == (0, 2, False)
    assert (Context.objects.count(), ZeroClaimYear.pgh_event_model.objects.count()) == (contexts, 2)


def test_every_bad_row_is_reported_and_nothing_is_written(people):
    other = number("310101", "19900101", "055")
    rows = [
        [people["钱"].id_number, "钱零报", "2025", ""],          # 2: good
        [BAD_CHECK_DIGIT, "某人", "2025", ""],                   # 3: check digit
        [other, "无此人", "2025", ""],                            # 4: not on file
        [people["孙"].id_number, "孙三", "2025", ""],            # 5: name differs
        [people["周"].id_number, "周未缴", "2025", ""],          # 6: not paid for 2025
        [people["吴"].id_number, "吴西宁", "2025", ""],          # 7: another region's resident
        [people["钱"].id_number, "钱零报", "2026", ""],          # 8: year not ended / not the list's
        [people["钱"].id_number, "钱零报", "2025", ""],          # 9: repeated
        [people["孙"].id_number, "孙二", "二五", ""],             # 10: not a year
        [people["孙"].id_number, "孙二", "2025", "x" * 201],     # 11: source too long
    ]
    result = import_zero_claims(data(rows), "z.csv", region="310000", year=2025, actor="tester", today=TODAY)
    assert result.rejected
    assert [(e.row, e.column, e.reason) for e in result.errors] == [  # the title row is row 1
        (4, "身份证号码", CHECK_DIGIT),
        (5, "身份证号码", "未找到该参保人，请先办理人员登记"),
        (6, "姓名", "与系统登记的姓名不符（系统登记为 孙二）"),
        (7, "年度", "周未缴 2025 年度未在本市缴费参保，不能登记为零报销年度"),
        (8, "身份证号码", "参保地为 630100，不属于导入的地区"),
        (9, "年度", "与导入的年度 2025 不符，收到 2026"),
        (10, "身份证号码", "2025 年度与第 3 行重复"),
        (11, "年度", "应为四位年份，收到 '二五'"),
        (12, "依据", "超过 200 个字"),
        (12, "身份证号码", "2025 年度与第 6 行重复"),
    ]
    assert result.as_dict()["invalid_rows"] == 9
    assert not ZeroClaimYear.objects.exists()
    assert not ZeroClaimYear.pgh_event_model.objects.exists()


def test_without_a_year_each_row_names_its_own_and_an_unended_one_is_refused(people):
    rows = [[people["钱"].id_number, "钱零报", "2026", ""], [people["孙"].id_number, "孙二", "", ""]]
    result = import_zero_claims(data(rows), "z.csv", actor="tester", today=TODAY)
    assert [(e.row, e.column, e.reason) for e in result.errors] == [
        (3, "年度", "2026 年度尚未结束（今天是 2026-11-30），不能登记为零报销年度"),
        (4, "年度", "不能为空")]
    assert not ZeroClaimYear.objects.exists()


def test_skip_invalid_writes_the_good_rows(people):
    rows = [[people["钱"].id_number, "钱零报", "2025", ""], [people["周"].id_number, "周未缴", "2025", ""]]
    result = import_zero_claims(data(rows), "z.csv", year=2025, skip_invalid=True, actor="tester", today=TODAY)
    assert (result.rejected, result.created, result.as_dict()["invalid_rows"]) == (False, 1, 1)
    assert [n for n, *_ in stored()] == ["钱零报"]


def test_a_caseworker_only_for_their_regions(people):
    xining = caseworker("cw630", "630100")
    rows = [[people["钱"].id_number, "钱零报", "2025", ""], [people["吴"].id_number, "吴西宁", "2025", ""]]
    result = import_zero_claims(data(rows), "z.csv", year=2025, actor=xining, user=xining, today=TODAY)
    assert [(e.row, e.column, e.reason) for e in result.errors] == [
        (3, "身份证号码", "身份证号码已由其他经办地区登记，请联系该地区经办机构或上级")]
    assert not ZeroClaimYear.objects.exists()
    refused = import_zero_claims(data(rows), "z.csv", region="310000", year=2025, actor=xining, user=xining,
                                 today=TODAY)
    assert [(e.row, e.column, e.reason) for e in refused.errors] == [(0, "地区", "310000 不在您的经办地区内")]
    ok = import_zero_claims(data(rows), "z.csv", year=2025, skip_invalid=True, actor=xining, user=xining,
                            today=TODAY)
    assert (ok.created, stored()) == (1, [("吴西宁", 2025, "零报销名单导入：z.csv", xining.pk)])


def test_a_dry_run_counts_and_writes_nothing(people):
    rows = [[people["钱"].id_number, "钱零报", "2025", ""]]
    result = import_zero_claims(data(rows), "z.csv", year=2025, dry_run=True, actor="tester", today=TODAY)
    assert (result.created, result.rejected) == (1, False)
    assert not ZeroClaimYear.objects.exists()


def test_unpaid_enrollments_are_priced_again(people):
    """A pupil's unpaid 2026 registration is priced again once 2025 is recorded, as on the
    resident page (the history the rules read changed)."""
    from .support import clone

    clone("310000", 2025, 2026)
    pupil = person("310101", "20150901", "066", name="小明", today=date(2025, 11, 1), student="primary_secondary")
    paid_row(pupil, 2025, category="student")
    registered = register(pupil, 2026, date(2025, 12, 1))
    rows = [[pupil.id_number, "小明", "2025", ""]]
    with today_is(TODAY):
        result = import_zero_claims(data(rows), "z.csv", year=2025, actor="tester", today=TODAY)
    assert (result.created, result.repriced) == (1, 1)
    registered.refresh_from_db()
    assert registered.status == "registered"
    assert registered.events.filter(pgh_label="update").get().pgh_context.metadata["action"] == "import_zero_claims"


# --- the command -------------------------------------------------------------------------------


def run(*args):
    out, err = StringIO(), StringIO()
    try:
        with today_is(TODAY):
            call_command("import_zero_claims", *map(str, args), stdout=out, stderr=err)
        code = 0
    except SystemExit as exc:
        code = exc.code
    return code, out.getvalue(), err.getvalue()


def test_the_command(people, tmp_path):
    path = tmp_path / "零报销.csv"
    path.write_bytes(data([[people["钱"].id_number, "钱零报", "", ""],
                           [people["周"].id_number, "周未缴", "", ""]]))
    code, out, err = run(path, "--region", "310000", "--year", "2025")
    assert code == 1
    assert err.splitlines() == ["row 4: 年度: 周未缴 2025 年度未在本市缴费参保，不能登记为零报销年度",
                                "rejected: 1 invalid row(s); nothing written"]
    assert json.loads(out)["rejected"] is True
    assert not ZeroClaimYear.objects.exists()

    code, out, err = run(path, "--region", "310000", "--year", "2025", "--skip-invalid")
    assert code == 0
    assert json.loads(out) == {"rows": 2, "created": 1, "unchanged": 0, "repriced": 0, "invalid_rows": 1,
                               "rejected": False}
    row = ZeroClaimYear.objects.get()
    assert (row.resident_id, row.year, row.source, row.recorded_by_id) == (
        people["钱"].pk, 2025, "零报销名单导入：零报销.csv", None)
    event = ZeroClaimYear.pgh_event_model.objects.get()
    assert event.pgh_context.metadata == {"action": "import_zero_claims",
                                          "actor": "manage.py import_zero_claims 零报销.csv"}
    runs = list(BatchRun.objects.filter(kind="import_zero_claims").order_by("id").values_list(
        "status", "params", "failed"))
    assert runs[1][0] == "done" and runs[1][1]["regions"] == ["310000"] and runs[1][2] == 1

    code, out, _ = run(path, "--region", "310000", "--year", "2025", "--skip-invalid")
    assert (code, json.loads(out)["created"], json.loads(out)["unchanged"]) == (0, 0, 1)
    assert ZeroClaimYear.objects.count() == 1


def test_the_command_refuses_an_unknown_region(people, tmp_path):
    path = tmp_path / "z.csv"
    path.write_bytes(data([[people["钱"].id_number, "钱零报", "2025", ""]]))
    code, _, err = run(path, "--region", "999999")
    assert code == 1 and "row 0: 地区: 未知地区 '999999'" in err
    assert not ZeroClaimYear.objects.exists()


# --- correction and withdrawal ---------------------------------------------------------------


@pytest.fixture
def recorded(people):
    paid_row(people["钱"], 2024)
    return zero_claim_record(resident=people["钱"], year=2025, source="名单", actor=None, today=TODAY)


def test_correct_with_a_reason(people, recorded):
    user = caseworker("cw310c", "310000")
    row = zero_claim_correct(zero_claim=recorded, year=2024, source="2024 年度名单", reason="年度录错",
                             actor=user, today=TODAY)
    got = ZeroClaimYear.objects.get()
    assert (got.pk, got.year, got.source, got.change_reason) == (recorded.pk, 2024, "2024 年度名单", "年度录错")
    assert row.year == 2024
    assert coverage_history(people["钱"]) == {2024: "resident_zero_claim", 2025: "resident"}
    event = ZeroClaimYear.pgh_event_model.objects.get(pgh_label="update")
    assert (event.year, event.change_reason) == (2024, "年度录错")
    assert event.pgh_context.metadata == {"action": "zero_claim_correct", "reason": "年度录错",
                                          "user": user.pk, "username": "cw310c"}


@pytest.mark.parametrize("year, source, reason, code, message", [
    (2025, "名单", "无", "unchanged", "年度和依据均未改动，无需更正"),
    (2024, "名单", "  ", "invalid_input", "请填写更正原因"),
    (2023, "名单", "录错", "not_enrolled", "钱零报 2023 年度未在本市缴费参保，不能登记为零报销年度"),
    (2026, "名单", "录错", "invalid_input", "2026 年度尚未结束（今天是 2026-11-30），不能登记为零报销年度"),
    (2025, "", "录错", "invalid_input", "请填写依据（如医保结算系统的零报销名单）"),
])
def test_a_bad_correction_changes_nothing(recorded, year, source, reason, code, message):
    with pytest.raises(EnrollmentError) as exc:
        zero_claim_correct(zero_claim=recorded, year=year, source=source, reason=reason, actor=None, today=TODAY)
    assert (exc.value.code, exc.value.message) == (code, message)
    got = ZeroClaimYear.objects.get()
    assert (got.year, got.source, got.change_reason) == (2025, "名单", "")
    assert not ZeroClaimYear.pgh_event_model.objects.filter(pgh_label="update").exists()


def test_correcting_onto_a_recorded_year_is_a_duplicate(people, recorded):
    zero_claim_record(resident=people["钱"], year=2024, source="名单", actor=None, today=TODAY)
    with pytest.raises(EnrollmentError) as exc:
        zero_claim_correct(zero_claim=recorded, year=2024, source="名单", reason="录错", actor=None, today=TODAY)
    assert (exc.value.code, exc.value.message) == ("duplicate", "钱零报 的 2024 年度已登记为零报销年度")
    assert sorted(ZeroClaimYear.objects.values_list("year", flat=True)) == [2024, 2025]


def test_withdraw_with_a_reason(people, recorded):
    user = caseworker("cw310w", "310000")
    zero_claim_withdraw(zero_claim=recorded, reason="结算系统更正：当年有报销", actor=user, today=TODAY)
    assert not ZeroClaimYear.objects.exists()
    assert coverage_history(people["钱"]) == {2024: "resident", 2025: "resident"}
    events = list(ZeroClaimYear.pgh_event_model.objects.order_by("pgh_id").values_list(
        "pgh_label", "change_reason", "pgh_context__metadata"))
    meta = {"action": "zero_claim_withdraw", "reason": "结算系统更正：当年有报销", "user": user.pk,
            "username": "cw310w"}
    assert events[1:] == [("update", "结算系统更正：当年有报销", meta), ("delete", "结算系统更正：当年有报销", meta)]
    with pytest.raises(EnrollmentError) as exc:  # twice: gone
        zero_claim_withdraw(zero_claim=recorded, reason="再次", actor=user, today=TODAY)
    assert (exc.value.code, exc.value.message) == ("not_found", "该零报销年度记录已撤销或不存在")


def test_a_withdrawal_without_a_reason_is_refused(recorded):
    with pytest.raises(EnrollmentError) as exc:
        zero_claim_withdraw(zero_claim=recorded, reason="", actor=None, today=TODAY)
    assert (exc.value.code, exc.value.message) == ("invalid_input", "请填写撤销原因")
    assert ZeroClaimYear.objects.count() == 1
