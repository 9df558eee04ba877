"""``import_payments``: a school paying for its pupils, the same file again, a faulty row,
--skip-invalid, carried-over years, and the import agreeing with payment_record row by row."""

from __future__ import annotations

import io
import json
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.db import transaction

from core.models import BatchRun
from enrollment.models import Enrollment
from enrollment.tests.support import number, person, register
from payments.imports import import_payments, parse_moment
from payments.models import Payment, Refund
from payments.services import PaymentError, ledger_check, payment_record

from .test_api import NOV, carried

pytestmark = pytest.mark.usefixtures("policies")
HEADER = ["渠道", "交易流水号", "身份证号码", "姓名", "待遇年度", "金额", "缴费时间", "缴费单位"]
SH = ZoneInfo("Asia/Shanghai")


@pytest.fixture(autouse=True)
def business_date(settings):
    def pin(day: date):
        settings.BUSINESS_DATE = day
    pin(NOV)
    return pin


def csv_bytes(rows, header=HEADER) -> bytes:
    lines = [",".join(header)] + [",".join(str(c) for c in row) for row in rows]
    return ("\ufeff" + "\n".join(lines) + "\n").encode()


def command(tmp_path, rows, *args, name="代收.csv", header=HEADER):
    path = tmp_path / name
    path.write_bytes(csv_bytes(rows, header))
    out, err = io.StringIO(), io.StringIO()
    code = 0
    try:
        call_command("import_payments", str(path), *args, stdout=out, stderr=err)
    except SystemExit as exc:
        code = exc.code
    return code, json.loads(out.getvalue()), err.getvalue().splitlines()


@pytest.fixture
def pupils():
    """Three pupils of one school, continuously enrolled, registered for 2026."""
    out = []
    for seq, name in [("011", "王一"), ("013", "王二"), ("015", "王三")]:
        r = person("141102", "20150301", seq, name=name, student="primary_secondary")
        carried(r, 2025)
        register(r, 2026, NOV)
        out.append(r)
    return out


def school_rows(pupils, amount="400.00"):
    return [["学校代收", f"SCH-{i}", p.id_number, p.name, 2026, amount, "2025-11-10 10:30:00", "离石区实验小学"]
            for i, p in enumerate(pupils, 1)]


def imported():
    return Payment.objects.exclude(channel="carried_over")


def test_a_school_pays_for_three_pupils_and_the_same_file_again_changes_nothing(tmp_path, pupils):
    code, summary, err = command(tmp_path, school_rows(pupils))
    assert (code, err) == (0, [])
    assert summary == {"rows": 3, "paid": 3, "unchanged": 0, "already_paid": 0, "invalid_rows": 0,
                       "rejected": False}
    rows = list(imported().order_by("txn_id").values_list(
        "channel", "txn_id", "id_number", "amount", "outcome", "payer_kind", "payer_name", "paid_on", "paid_at"))
    assert rows == [("collective", f"SCH-{i}", p.id_number, Decimal("400.00"), "applied", "collector",
                     "离石区实验小学", NOV, datetime(2025, 11, 10, 10, 30, tzinfo=SH))
                    for i, p in enumerate(pupils, 1)]
    for p in pupils:
        e = Enrollment.objects.get(resident=p, year=2026)
        assert (e.status, e.paid_amount, e.paid_on, e.paid_via, e.benefit_start, e.benefit_end) == (
            "paid", Decimal("400.00"), NOV, "collective", date(2026, 1, 1), date(2026, 12, 31))
        pay = imported().get(id_number=p.id_number)
        assert (pay.response, pay.response_status) == (
            {"payment_id": pay.pk, "status": "paid", "benefit_start": "2026-01-01"}, 201)
    run = BatchRun.objects.get(kind="import_payments")
    assert (run.status, run.summary["paid"]) == ("done", 3)

    code, summary, err = command(tmp_path, school_rows(pupils))
    assert (code, summary["unchanged"], summary["paid"], summary["already_paid"]) == (0, 3, 0, 0)
    assert imported().count() == 3 and not Refund.objects.exists()
    assert ledger_check() == []


def test_a_faulty_row_rejects_the_whole_file_and_skip_invalid_writes_the_good_rows(tmp_path, pupils):
    rows = school_rows(pupils)
    rows[1][5] = "380.00"  # amount_mismatch
    stranger = number("141102", "19700101", "031")
    rows.append(["微信", "WX-9", stranger, "陌生人", 2026, "400.00", "2025/11/10 10:30", ""])  # not_registered
    rows.append(["微信", "WX-10", pupils[0].id_number, "王五", 2026, "400.00", "2025-11-10", ""])  # name_mismatch
    rows.append(["现金", "C-1", pupils[1].id_number, "王二", 2026, "400.00", "2025-10-26 09:00", ""])  # day 26
    rows.append(["比特币", "X-1", pupils[2].id_number, "王三", 2026, "4OO", "昨天", ""])
    code, summary, err = command(tmp_path, rows)
    assert code == 1
    assert summary == {"rows": 7, "paid": 0, "unchanged": 0, "already_paid": 0, "invalid_rows": 5,
                       "rejected": True}
    assert err[:6] == [
        "row 3: 金额: 应缴 400.00 元，实缴 380.00 元，金额不符",
        "row 5: 身份证号码: 未找到该参保人的参保登记",
        "row 6: 姓名: 姓名与身份证号码不符",
        "row 7: 缴费时间: 吕梁市每月 1 日至 25 日办理缴费，2025-10-26 不能缴费",
        "row 8: 渠道: 未知缴费渠道 '比特币'",
        "row 8: 缴费时间: 应为日期时间，如 2025-11-10 10:30:00，收到 '昨天'",
    ]
    assert err[6:] == ["row 8: 金额: 应为不小于 0、最多两位小数的金额，收到 '4OO'",
                       "rejected: 5 invalid row(s); nothing written"]
    assert not imported().exists()
    assert Enrollment.objects.filter(year=2026, status="paid").count() == 0

    code, summary, err = command(tmp_path, rows, "--skip-invalid")
    assert code == 0
    assert summary == {"rows": 7, "paid": 2, "unchanged": 0, "already_paid": 0, "invalid_rows": 5,
                       "rejected": False}
    assert sorted(imported().values_list("txn_id", flat=True)) == ["SCH-1", "SCH-3"]
    assert Enrollment.objects.get(resident=pupils[1], year=2026).status == "registered"
    assert ledger_check() == []


def test_a_second_payment_in_the_file_is_kept_and_queued_for_refund_and_a_changed_row_conflicts(tmp_path, pupils):
    rows = school_rows(pupils[:1])
    rows.append(["支付宝", "ALI-1", pupils[0].id_number, "王一", 2026, "400.00", "2025-11-09 08:00", ""])
    code, summary, _ = command(tmp_path, rows)
    assert summary == {"rows": 2, "paid": 1, "unchanged": 0, "already_paid": 1, "invalid_rows": 0,
                       "rejected": False}
    dup = imported().get(channel="alipay")
    assert (dup.outcome, dup.response_status) == ("duplicate", 409)
    refund = Refund.objects.get()
    assert (refund.reason, refund.amount, refund.source_payment_id, refund.status) == (
        "duplicate", Decimal("400.00"), dup.pk, "requested")
    rows[0][5] = "399.00"
    code, summary, err = command(tmp_path, rows)
    assert (code, err[0]) == (1, "row 2: 交易流水号: 渠道 collective 的交易流水号 SCH-1 已用于另一笔不同内容的缴费")
    assert (imported().count(), Refund.objects.count()) == (2, 1)
    assert ledger_check() == []


def test_a_carried_over_year_makes_the_next_year_continuous(tmp_path, business_date):
    day = date(2026, 1, 10)
    business_date(day)
    new = person("141102", "19700101", "011", name="王五", today=day)  # no history: waits
    old = person("141102", "19700101", "033", name="赵六", today=day)  # 2025 carried over
    for r in (new, old):
        register(r, 2026, day)
    rows = [["原系统结转", "OLD-1", old.id_number, "赵六", 2025, "380.00", "2024-12-01", ""]]
    code, summary, _ = command(tmp_path, rows)
    assert summary == {"rows": 1, "paid": 1, "unchanged": 0, "already_paid": 0, "invalid_rows": 0,
                       "rejected": False}
    e2025 = Enrollment.objects.get(resident=old, year=2025)
    assert (e2025.status, e2025.paid_amount, e2025.benefit_start, e2025.region_id) == (
        "paid", Decimal("380.00"), date(2025, 1, 1), "141100")
    assert command(tmp_path, rows)[1]["unchanged"] == 1
    future = [["原系统结转", "OLD-2", old.id_number, "赵六", 2027, "380.00", "2024-12-01", ""]]
    code, _, err = command(tmp_path, future)
    assert (code, err[0]) == (1, "row 2: 待遇年度: 结转只适用于以往年度，2027 年度请按正常缴费办理")

    late = [["银行", f"B-{i}", r.id_number, r.name, 2026, "400.00", "2026-01-10 09:00", ""]
            for i, r in enumerate((new, old))]
    code, summary, _ = command(tmp_path, late, name="补缴.csv")
    assert summary["paid"] == 2
    starts = {p.name: Enrollment.objects.get(pk=p.enrollment_id).benefit_start
              for p in imported().filter(channel="bank")}
    assert starts["赵六"] == day  # continuous: benefits from the payment day
    assert starts["王五"] == date(2026, 4, 10)  # a first enrollment paid late waits three months
    assert ledger_check() == []


def test_dates_as_spreadsheets_write_them():
    assert parse_moment("2025-11-10 10:30:00") == datetime(2025, 11, 10, 10, 30, tzinfo=SH)
    assert parse_moment("2025/11/10 10:30") == datetime(2025, 11, 10, 10, 30, tzinfo=SH)
    assert parse_moment("2025-11-10") == datetime(2025, 11, 10, 12, tzinfo=SH)
    assert parse_moment("\x00numeric:45971.4375") == datetime(2025, 11, 10, 10, 30, tzinfo=SH)
    assert parse_moment("2025-11-10T02:30:00Z") == datetime(2025, 11, 10, 10, 30, tzinfo=SH)
    with pytest.raises(ValueError):
        parse_moment("2025-13-10")


def test_an_xlsx_with_datetime_cells(tmp_path, pupils):
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["2025 年 11 月学校代收明细"])
    sheet.append(HEADER)
    for row in school_rows(pupils):
        row[6] = datetime(2025, 11, 10, 10, 30)
        sheet.append(row)
    path = tmp_path / "代收.xlsx"
    book.save(path)
    result = import_payments(path.read_bytes(), "代收.xlsx", actor="test")
    assert (result.as_dict()["paid"], result.errors) == (3, [])
    assert imported().first().paid_on == NOV
    # the cell's time of day, not noon
    assert {p.paid_at.astimezone(SH) for p in imported()} == {datetime(2025, 11, 10, 10, 30, tzinfo=SH)}


CASES = [  # (channel, txn, who, name, year, amount, time): every outcome once
    ("wechat", "A-1", 0, None, 2026, "400.00", "2025-11-10 10:30:00"),  # paid
    ("wechat", "A-1", 0, None, 2026, "400.00", "2025-11-10 10:30:00"),  # unchanged (same txn, same body)
    ("alipay", "A-2", 0, None, 2026, "400.00", "2025-11-10 11:00:00"),  # already paid → refund
    ("wechat", "A-3", 1, None, 2026, "399.00", "2025-11-10 10:30:00"),  # amount_mismatch
    ("wechat", "A-4", 1, "别人", 2026, "400.00", "2025-11-10 10:30:00"),  # name_mismatch
    ("wechat", "A-5", 2, None, 2027, "400.00", "2025-11-10 10:30:00"),  # not registered for 2027
    ("cash", "A-6", 1, None, 2026, "400.00", "2025-11-10 09:00:00"),  # paid
    ("wechat", "A-1", 2, None, 2026, "400.00", "2025-11-10 10:30:00"),  # idempotency_conflict
    ("bank", "A-7", 2, None, 2026, "400.00", "2025-11-01 09:00:00"),  # paid
]


def _as_rows(people):
    return [[ch, txn, people[who].id_number, name or people[who].name, year, amount, moment, ""]
            for ch, txn, who, name, year, amount, moment in CASES]


def _state():
    payments = [(p.channel, p.txn_id, p.id_number, p.year, p.amount, p.outcome, p.paid_on, p.region_id,
                 p.response_status, {k: v for k, v in p.response.items() if k != "payment_id"})
                for p in imported().order_by("channel", "txn_id")]
    enrollments = list(Enrollment.objects.filter(year=2026).order_by("id").values_list(
        "status", "paid_amount", "paid_on", "paid_via", "amount_due", "category", "benefit_start", "benefit_end",
        "waiting_months", "waiting_days"))
    refunds = list(Refund.objects.order_by("id").values_list("id_number", "amount", "reason", "status"))
    return payments, enrollments, refunds


def test_the_import_and_payment_record_agree_row_by_row(pupils):
    """The same rows through the import (set-based) and through payment_record one by one,
    each from the same starting point: the same outcome per row and the same database."""
    rows = _as_rows(pupils)
    with transaction.atomic():
        result = import_payments(csv_bytes(rows), "a.csv", actor="test", skip_invalid=True)
        by_import = {r.row: (r.outcome, r.code) for r in result.rows}
        for e in result.errors:
            by_import.setdefault(e.row, ("error", ""))
        state_import = _state()
        transaction.set_rollback(True)
    assert not imported().exists()
    by_api = {}
    for i, row in enumerate(rows, start=2):
        ch, txn, number_, name, year, amount, moment, _ = row
        try:
            rec = payment_record(channel=ch, txn_id=txn, id_number=number_, name=name, year=year,
                                 amount=Decimal(amount), paid_at=parse_moment(moment), actor="test",
                                 payer_kind="collector", body_hash=result.rows[[r.row for r in result.rows].index(i)]
                                 .body_hash if i in [r.row for r in result.rows] else "")
            by_api[i] = ("unchanged" if rec.repeated else "already_paid" if rec.status == 409 else "paid", "")
        except PaymentError as exc:
            by_api[i] = ("error", exc.code)
    assert by_import == by_api
    assert [o for o, _ in by_api.values()] == ["paid", "unchanged", "already_paid", "error", "error", "error",
                                               "paid", "error", "paid"]
    assert [c for _, c in by_api.values()] == ["", "", "", "amount_mismatch", "name_mismatch", "not_registered",
                                               "", "idempotency_conflict", ""]
    assert _state() == state_import
    assert ledger_check() == []


def test_a_command_line_import_is_seen_by_the_caseworkers_of_its_rows_regions(tmp_path, pupils, client):
    """批处理任务 lists command-line imports too: the run records the regions of its rows, so the
    region's caseworkers see it and another region's do not (hostile pass, 2026-12-02)."""
    from core.models import BatchRun
    from enrollment.tests.support import PASSWORD, caseworker

    code, summary, _ = command(tmp_path, school_rows(pupils))
    assert (code, summary["paid"]) == (0, 3)
    run = BatchRun.objects.get(kind="import_payments")
    assert run.params["regions"] == ["141100"]
    for user, sees in ((caseworker("ll", "141100"), True), (caseworker("xy", "141181"), False),
                       (caseworker("nb", "330200"), False)):
        client.login(username=user.username, password=PASSWORD)
        page = client.get("/admin/core/batchrun/").content.decode()
        assert (f"/admin/core/batchrun/{run.pk}/change/" in page) is sees, user.username
        if sees:  # no one started it in the browser: the list says where it came from, not "-"
            assert "系统（命令行或定时任务）" in page
        client.logout()


def test_an_amount_with_thousands_separators_reads_as_a_spreadsheet_shows_it(tmp_path, pupils):
    from payments.services import parse_sheet_amount

    assert parse_sheet_amount("1,000.00") == Decimal("1000.00")
    assert parse_sheet_amount("12,345,678") == Decimal("12345678.00")
    assert parse_sheet_amount("400") == Decimal("400.00")
    for bad in ("1,00.00", ",400.00", "1,0000.00", "1,000.001", "-1,000.00"):
        with pytest.raises(PaymentError):
            parse_sheet_amount(bad)
    rows = school_rows(pupils)
    rows[0][5] = '"1,000.00"'  # quoted, as a spreadsheet writes it; read as 1000.00: the amount differs
    rows[1][5] = '"4,00.00"'
    code, summary, err = command(tmp_path, rows)
    assert code == 1 and err[:2] == ["row 2: 金额: 应缴 400.00 元，实缴 1000.00 元，金额不符",
                                     "row 3: 金额: 应为不小于 0、最多两位小数的金额，收到 '4,00.00'"]
    assert not imported().exists()
