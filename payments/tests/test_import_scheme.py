"""``import_payments`` with the optional 险种 column: rows of the flexible-employment scheme
(灵活就业人员医疗保险) land as the channel API's payment with ``scheme`` does — through
``payment_record`` row by row, the same idempotency, refusals and codes — beside resident rows
on the set-based path; all-or-nothing unless --skip-invalid; a dry run writes nothing; a file
without the column is imported as before (the same row hashes)."""

from __future__ import annotations

import hashlib
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from enrollment.imports.common import HELD_ELSEWHERE
from enrollment.models import Enrollment
from enrollment.tests.support import caseworker, number, person, register
from flexible.models import FlexibleEnrollment
from flexible.services import flexible_enroll
from payments.imports import import_payments, parse_moment
from payments.models import Payment, Refund
from payments.services import PaymentError, ledger_check, payment_record

from .test_api import NOV, carried
from .test_imports import command as imports_command
from .test_imports import csv_bytes as imports_csv_bytes

pytestmark = pytest.mark.usefixtures("policies")
HEADER = ["渠道", "交易流水号", "身份证号码", "姓名", "待遇年度", "金额", "缴费时间", "缴费单位", "险种"]
SH = ZoneInfo("Asia/Shanghai")
DEC1 = date(2024, 12, 1)
FLEX = "flexible_employment"
FLEX_LABEL = "灵活就业人员医疗保险"
PAY_URL = "/admin/payments/reconciliationrun/import-payments/"


@pytest.fixture(autouse=True)
def business_date(settings):
    settings.BUSINESS_DATE = NOV  # 2025-11-10


def csv_bytes(rows, header=HEADER) -> bytes:
    return imports_csv_bytes(rows, header)


def command(tmp_path, rows, *args, header=HEADER):
    return imports_command(tmp_path, rows, *args, header=header)


@pytest.fixture
def pupils():
    """Two pupils in Lüliang, continuously enrolled, registered for 2026 (400.00 each)."""
    out = []
    for seq, name in [("011", "王一"), ("013", "王二")]:
        r = person("141102", "20150301", seq, name=name, student="primary_secondary")
        carried(r, 2025)
        register(r, 2026, NOV)
        out.append(r)
    return out


@pytest.fixture
def workers():
    """Two flexible employees in Xianyang enrolled for 2025 (in service, file at the
    re-employment centre, paid the year before): 3676.80 each when paid on 2025-03-31."""
    out = []
    for seq, name in [("001", "王建国"), ("013", "赵敏")]:
        r = person("610402", "19700101", seq, name=name, today=DEC1)
        flexible_enroll(resident=r, year=2025, person_status="in_service", file_held_at="reemployment_centre",
                        paid_previous_year=True, actor=None, today=DEC1)
        out.append(r)
    return out


def flex_row(r, txn, amount="3676.80", scheme=FLEX_LABEL, channel="支付宝"):
    return [channel, txn, r.id_number, r.name, 2025, amount, "2025-03-31 09:15:00", "咸阳市某社区", scheme]


def pupil_row(r, txn, scheme=""):
    return ["学校代收", txn, r.id_number, r.name, 2026, "400.00", "2025-11-10 10:30:00", "离石区实验小学", scheme]


def imported():
    return Payment.objects.exclude(channel="carried_over")


def flex_state():
    return list(FlexibleEnrollment.objects.order_by("id").values_list(
        "status", "payment_id", "paid_amount", "paid_on", "benefit_start", "certificate_from"))


def test_a_file_mixing_resident_and_flexible_rows_lands_both_and_again_changes_nothing(tmp_path, pupils,
                                                                                    workers):
    wang, zhao = workers
    rows = [pupil_row(pupils[0], "SCH-1"), flex_row(wang, "ALI-F1"), pupil_row(pupils[1], "SCH-2", "城乡居民"),
            flex_row(zhao, "ALI-F2", scheme=FLEX)]
    code, summary, err = command(tmp_path, rows)
    assert (code, err) == (0, [])
    assert summary == {"rows": 4, "paid": 4, "unchanged": 0, "already_paid": 0, "invalid_rows": 0,
                       "rejected": False}
    e_wang = FlexibleEnrollment.objects.get(resident=wang)
    e_zhao = FlexibleEnrollment.objects.get(resident=zhao)
    got = [(p.txn_id, p.scheme, p.scheme_enrollment_id, p.enrollment_id, p.channel, p.id_number, p.name,
            p.region_id, p.year, p.amount, p.outcome, p.payer_kind, p.payer_name, p.paid_on, p.paid_at,
            p.response_status, p.note) for p in imported().order_by("txn_id")]
    march31 = datetime(2025, 3, 31, 9, 15, tzinfo=SH)
    nov10 = datetime(2025, 11, 10, 10, 30, tzinfo=SH)
    e1 = Enrollment.objects.get(resident=pupils[0], year=2026)
    e2 = Enrollment.objects.get(resident=pupils[1], year=2026)
    assert got == [
        ("ALI-F1", FLEX, e_wang.pk, None, "alipay", wang.id_number, "王建国", "610400", 2025, Decimal("3676.80"),
         "applied", "collector", "咸阳市某社区", date(2025, 3, 31), march31, 201, "批量导入（import_payments）"),
        ("ALI-F2", FLEX, e_zhao.pk, None, "alipay", zhao.id_number, "赵敏", "610400", 2025, Decimal("3676.80"),
         "applied", "collector", "咸阳市某社区", date(2025, 3, 31), march31, 201, "批量导入（import_payments）"),
        ("SCH-1", "resident", None, e1.pk, "collective", pupils[0].id_number, "王一", "141100", 2026,
         Decimal("400.00"), "applied", "collector", "离石区实验小学", NOV, nov10, 201, "批量导入（import_payments）"),
        ("SCH-2", "resident", None, e2.pk, "collective", pupils[1].id_number, "王二", "141100", 2026,
         Decimal("400.00"), "applied", "collector", "离石区实验小学", NOV, nov10, 201, "批量导入（import_payments）"),
    ]
    p_wang = imported().get(txn_id="ALI-F1")
    assert p_wang.response == {"payment_id": p_wang.pk, "status": "paid", "benefit_start": "2025-03-31",
                               "scheme": FLEX, "certificate_from": "2025-04-05"}
    assert (e_wang.status, e_wang.payment_id, e_wang.paid_amount, e_wang.paid_on, e_wang.timing,
            e_wang.interruption_months, e_wang.makeup_basic, e_wang.benefit_start, e_wang.certificate_from) == (
        "paid", p_wang.pk, Decimal("3676.80"), date(2025, 3, 31), "interrupted", 3, Decimal("864.00"),
        date(2025, 3, 31), date(2025, 4, 5))
    assert (e_zhao.status, e_zhao.payment_id, e_zhao.paid_amount) == (
        "paid", imported().get(txn_id="ALI-F2").pk, Decimal("3676.80"))
    for e in (e1, e2):
        assert (e.status, e.paid_amount, e.paid_on, e.paid_via, e.benefit_start, e.benefit_end) == (
            "paid", Decimal("400.00"), NOV, "collective", date(2026, 1, 1), date(2026, 12, 31))
    assert not Enrollment.objects.filter(resident__in=workers).exists()  # no resident enrollment made for them
    assert ledger_check() == []

    before = (list(imported().order_by("id").values_list("id", "request_hash", "outcome")), flex_state())
    code, summary, err = command(tmp_path, rows)
    assert (code, err) == (0, [])
    assert summary == {"rows": 4, "paid": 0, "unchanged": 4, "already_paid": 0, "invalid_rows": 0,
                       "rejected": False}
    assert (list(imported().order_by("id").values_list("id", "request_hash", "outcome")), flex_state()) == before
    assert not Refund.objects.exists()
    assert ledger_check() == []


def test_without_the_column_a_file_lands_as_before_and_its_rows_hash_as_with_an_empty_cell(tmp_path, pupils):
    old_header = HEADER[:-1]
    code, summary, err = command(tmp_path, [pupil_row(pupils[0], "SCH-1")[:-1]], header=old_header)
    assert (code, err, summary["paid"]) == (0, [], 1)
    p = imported().get()
    assert (p.scheme, p.scheme_enrollment_id, p.enrollment_id) == (
        "resident", None, Enrollment.objects.get(resident=pupils[0], year=2026).pk)
    # the row's content as the import has always hashed it (no scheme in it)
    fields = ("import_payments", "collective", "SCH-1", pupils[0].id_number, "王一", "2026", "400.00",
              "2025-11-10T10:30:00+08:00", "collector", "", "离石区实验小学")
    assert p.request_hash == hashlib.sha256("\x1f".join(fields).encode()).hexdigest()
    for cell in ("", "城乡居民"):  # the same row with the column: the same content, unchanged
        code, summary, err = command(tmp_path, [pupil_row(pupils[0], "SCH-1", cell)])
        assert (code, err, summary["unchanged"], summary["paid"]) == (0, [], 1, 0)
    assert imported().count() == 1
    assert ledger_check() == []


def test_a_flexible_row_of_a_wrong_amount_rejects_the_file_and_skip_invalid_skips_only_it(tmp_path, pupils,
                                                                                         workers):
    wang, zhao = workers
    rows = [pupil_row(pupils[0], "SCH-1"), flex_row(wang, "ALI-F1", amount="3000.00"), flex_row(zhao, "ALI-F2")]
    result = import_payments(csv_bytes(rows), "a.csv", actor="test")
    assert [(r.row, r.outcome, r.code) for r in result.rows] == [
        (2, "paid", ""), (3, "error", "amount_mismatch"), (4, "paid", "")]  # decided, then rolled back
    code, summary, err = command(tmp_path, rows)
    assert code == 1
    assert summary == {"rows": 3, "paid": 0, "unchanged": 0, "already_paid": 0, "invalid_rows": 1,
                       "rejected": True}
    assert err == ["row 3: 金额: 应缴 3676.80 元，实缴 3000.00 元，金额不符", "rejected: 1 invalid row(s); nothing written"]
    assert not imported().exists()
    assert [s[:3] for s in flex_state()] == [("registered", None, None), ("registered", None, None)]
    assert Enrollment.objects.get(resident=pupils[0], year=2026).status == "registered"

    code, summary, err = command(tmp_path, rows, "--skip-invalid")
    assert code == 0
    assert summary == {"rows": 3, "paid": 2, "unchanged": 0, "already_paid": 0, "invalid_rows": 1,
                       "rejected": False}
    assert err == ["row 3: 金额: 应缴 3676.80 元，实缴 3000.00 元，金额不符"]
    assert sorted(imported().values_list("txn_id", "scheme")) == [("ALI-F2", FLEX), ("SCH-1", "resident")]
    assert FlexibleEnrollment.objects.get(resident=wang).status == "registered"
    assert FlexibleEnrollment.objects.get(resident=zhao).status == "paid"
    assert Enrollment.objects.get(resident=pupils[0], year=2026).status == "paid"
    assert ledger_check() == []


def test_a_dry_run_decides_every_row_and_writes_nothing(pupils, workers):
    rows = [pupil_row(pupils[0], "SCH-1"), flex_row(workers[0], "ALI-F1")]
    result = import_payments(csv_bytes(rows), "a.csv", actor="test", dry_run=True)
    assert result.as_dict() == {"rows": 2, "paid": 2, "unchanged": 0, "already_paid": 0, "invalid_rows": 0,
                                "rejected": False}
    assert not imported().exists()
    assert [s[:3] for s in flex_state()] == [("registered", None, None), ("registered", None, None)]
    assert Enrollment.objects.get(resident=pupils[0], year=2026).status == "registered"


def test_an_unknown_scheme_and_a_carried_over_flexible_row_are_row_errors(tmp_path, pupils, workers):
    wang = workers[0]
    rows = [flex_row(wang, "ALI-F1", scheme="职工医保"),
            ["原系统结转", "OLD-F1", wang.id_number, "王建国", 2024, "3000.00", "2024-01-10", "", FLEX_LABEL],
            pupil_row(pupils[0], "SCH-1")]
    code, summary, err = command(tmp_path, rows)
    assert code == 1
    assert summary == {"rows": 3, "paid": 0, "unchanged": 0, "already_paid": 0, "invalid_rows": 2,
                       "rejected": True}
    assert err == [
        "row 2: 险种: 未知险种 '职工医保'，应为空或 城乡居民、灵活就业人员医疗保险、flexible_employment 之一",
        "row 3: 险种: 原系统结转只适用于城乡居民医保，灵活就业人员医疗保险不能结转；请按实际缴费渠道导入",
        "rejected: 2 invalid row(s); nothing written",
    ]
    assert not Payment.objects.filter(id_number=wang.id_number).exists()
    assert not imported().exists()


def test_a_flexible_row_for_someone_without_a_flexible_enrollment_gets_payment_records_code(tmp_path, pupils):
    stranger = number("141102", "19700101", "031")
    rows = [flex_row(pupils[0], "ALI-F1", amount="400.00"), flex_row(pupils[1], "ALI-F2", amount="400.00")]
    rows[1][2], rows[1][3] = stranger, "陌生人"
    result = import_payments(csv_bytes(rows), "a.csv", actor="test", skip_invalid=True)
    assert [(r.row, r.outcome, r.code) for r in result.rows] == [(2, "error", "not_registered"),
                                                                (3, "error", "not_registered")]
    assert [(e.row, e.column, e.reason) for e in result.errors] == [
        (2, "身份证号码", "未找到 2025 年度的灵活就业人员医疗保险登记，请先登记参保"),
        (3, "身份证号码", "未找到该参保人的参保登记")]
    for row, e in zip(rows, result.errors):  # the service's own answer, word for word
        with pytest.raises(PaymentError) as exc:
            payment_record(channel="alipay", txn_id=row[1], id_number=row[2], name=row[3], year=2025,
                           amount=Decimal("400.00"), paid_at=parse_moment(row[6]), actor="test", scheme=FLEX)
        assert (exc.value.code, exc.value.message) == ("not_registered", e.reason)
    assert not imported().exists()


def test_a_changed_row_conflicts_and_a_second_payment_is_kept_and_queued_for_refund(tmp_path, workers):
    wang = workers[0]
    assert command(tmp_path, [flex_row(wang, "ALI-F1")])[1]["paid"] == 1
    changed = flex_row(wang, "ALI-F1")
    changed[7] = "另一个单位"
    code, summary, err = command(tmp_path, [changed])
    assert (code, summary["invalid_rows"]) == (1, 1)
    assert err[0] == "row 2: 交易流水号: 渠道 alipay 的交易流水号 ALI-F1 已用于另一笔不同内容的缴费"
    as_resident = flex_row(wang, "ALI-F1", scheme="")  # the same txn id as a resident payment: another content
    code, _, err = command(tmp_path, [as_resident])
    assert (code, err[0]) == (1, "row 2: 交易流水号: 渠道 alipay 的交易流水号 ALI-F1 已用于另一笔不同内容的缴费")

    code, summary, err = command(tmp_path, [flex_row(wang, "WX-F9", channel="微信")])
    assert (code, err) == (0, [])
    assert summary == {"rows": 1, "paid": 0, "unchanged": 0, "already_paid": 1, "invalid_rows": 0,
                       "rejected": False}
    dup = imported().get(txn_id="WX-F9")
    e = FlexibleEnrollment.objects.get(resident=wang)
    assert (dup.scheme, dup.scheme_enrollment_id, dup.outcome, dup.response_status, dup.response) == (
        FLEX, e.pk, "duplicate", 409, {"error": {"code": "already_paid", "message":
                                                 "2025 年度灵活就业人员医疗保险已缴费；本笔 3676.80 元已记录并列入退费"}})
    refund = Refund.objects.get()
    assert (refund.source_payment_id, refund.enrollment_id, refund.amount, refund.reason, refund.status) == (
        dup.pk, None, Decimal("3676.80"), "duplicate", "requested")
    assert e.payment_id == imported().get(txn_id="ALI-F1").pk
    assert command(tmp_path, [flex_row(wang, "WX-F9", channel="微信")])[1]["unchanged"] == 1
    assert (imported().count(), Refund.objects.count()) == (2, 1)
    assert ledger_check() == []


def test_the_admin_page_names_the_column_and_scopes_flexible_rows_to_the_users_regions(client, workers, settings,
                                                                                    tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    client.force_login(caseworker("ll_worker", "141100"))
    page = client.get(PAY_URL)
    assert page.context["column_help"] == (
        "险种（可选列）：空或“城乡居民”为城乡居民医保；“灵活就业人员医疗保险”（或 flexible_employment）为"
        "灵活就业人员医疗保险；原系统结转只适用于城乡居民医保")
    assert "可选：缴费单位、缴费单位代码、险种" in page.content.decode()
    assert page.context["column_help"] in page.content.decode()
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = client.post(PAY_URL, {"import_file": SimpleUploadedFile("f.csv", csv_bytes(
        [flex_row(workers[0], "ALI-F1")]))})
    preview = response.context["preview"]
    assert (preview["rejected"], preview["error_lines"]) == (True, [f"第 2 行 身份证号码：{HELD_ELSEWHERE}"])

    client.force_login(caseworker("xy_worker", "610400"))
    response = client.post(PAY_URL, {"import_file": SimpleUploadedFile("f.csv", csv_bytes(
        [flex_row(workers[0], "ALI-F1")]))})
    preview = response.context["preview"]
    assert (preview["rejected"], preview["error_lines"], preview["counts"][1]) == (False, [], ("缴费入账", 1))
    assert not imported().exists()  # a preview writes nothing


def test_a_flexible_row_twice_in_one_file_lands_once(tmp_path, workers):
    wang, zhao = workers
    rows = [flex_row(wang, "ALI-F1"), flex_row(wang, "ALI-F1"), flex_row(zhao, "ALI-F2", amount="1.00"),
            flex_row(zhao, "ALI-F2", amount="1.00")]
    code, summary, err = command(tmp_path, rows, "--skip-invalid")
    assert (code, summary) == (0, {"rows": 4, "paid": 1, "unchanged": 1, "already_paid": 0, "invalid_rows": 2,
                                   "rejected": False})
    assert err == ["row 4: 金额: 应缴 3676.80 元，实缴 1.00 元，金额不符",
                   "row 5: 金额: 同第 4 行：应缴 3676.80 元，实缴 1.00 元，金额不符"]
    assert list(imported().values_list("txn_id", "scheme", "outcome")) == [("ALI-F1", FLEX, "applied")]
    assert [s[0] for s in flex_state()] == ["paid", "registered"]
    assert ledger_check() == []
