"""import_tax_deposits: a file with every kind of difference, its exact summary and run,
and the same file again changing nothing."""

from __future__ import annotations

import io
import json
from decimal import Decimal

import pytest
from django.core.management import call_command

from payments.models import Payment, ReconciliationItem, ReconciliationRun, TaxDeposit
from payments.services import ledger_check

from .test_imports import command as pay_command
from .test_imports import pupils, school_rows  # noqa: F401  (fixture)
from .test_api import NOV

pytestmark = pytest.mark.usefixtures("policies")
HEADER = ["入库日期", "交易流水号", "渠道", "身份证号码", "待遇年度", "金额"]


@pytest.fixture(autouse=True)
def business_date(settings):
    settings.BUSINESS_DATE = NOV


def deposits(tmp_path, rows, *args, name="入库.csv"):
    path = tmp_path / name
    lines = ["税务局入库明细（2025 年 11 月）", ",".join(HEADER)] + [",".join(map(str, r)) for r in rows]
    path.write_bytes("\n".join(lines).encode("gbk"))
    out, err = io.StringIO(), io.StringIO()
    code = 0
    try:
        call_command("import_tax_deposits", str(path), *args, stdout=out, stderr=err)
    except SystemExit as exc:
        code = exc.code
    return code, json.loads(out.getvalue()), err.getvalue().splitlines()


def test_a_file_with_every_kind_of_difference(tmp_path, pupils):  # noqa: F811
    assert pay_command(tmp_path, school_rows(pupils))[1]["paid"] == 3  # SCH-1..3, collective, 2025-11-10
    a, b, c = pupils
    rows = [
        ["2025-11-10", "SCH-1", "集中代收", a.id_number, 2026, "400.00"],  # matched
        ["2025-11-10", "SCH-2", "collective", b.id_number, 2026, "399.00"],  # amount differs
        ["2025/11/10", "SCH-9", "集中代收", c.id_number, 2026, "400.00"],  # missing here
        # SCH-3: paid on 2025-11-10 through the same channel: missing there
    ]
    code, summary, err = deposits(tmp_path, rows)
    assert (code, err) == (0, [])
    assert summary == {"rows": 3, "matched": 1, "missing_here": 1, "missing_there": 1, "amount_differs": 1}
    run = ReconciliationRun.objects.get()
    assert (run.rows, run.matched, run.missing_here, run.missing_there, run.amount_differs) == (3, 1, 1, 1, 1)
    assert (run.day_from, run.day_to, run.channels, run.regions) == (NOV, NOV, ["collective"], ["141100"])
    items = list(run.items.order_by("kind", "txn_id").values_list(
        "kind", "txn_id", "our_amount", "their_amount", "region_id", "id_number"))
    pay3 = Payment.objects.get(txn_id="SCH-3")
    assert items == [
        ("amount_differs", "SCH-2", Decimal("400.00"), Decimal("399.00"), "141100", b.id_number),
        ("missing_here", "SCH-9", None, Decimal("400.00"), "141100", c.id_number),
        ("missing_there", "SCH-3", Decimal("400.00"), None, "141100", c.id_number),
    ]
    assert ReconciliationItem.objects.get(txn_id="SCH-3").payment_id == pay3.pk
    assert sorted(TaxDeposit.objects.values_list("txn_id", "amount", "deposited_on")) == [
        ("SCH-1", Decimal("400.00"), NOV), ("SCH-2", Decimal("399.00"), NOV), ("SCH-9", Decimal("400.00"), NOV)]

    # the same file again: the same run, the same counts, nothing added
    before = (run.checked_at, list(ReconciliationItem.objects.order_by("id").values_list("id", flat=True)))
    code, again, _ = deposits(tmp_path, rows)
    assert (code, again) == (0, summary)
    run.refresh_from_db()
    assert (ReconciliationRun.objects.count(), TaxDeposit.objects.count()) == (1, 3)
    assert (run.checked_at, list(ReconciliationItem.objects.order_by("id").values_list("id", flat=True))) == before

    # a deposit sent again with another amount is refused, nothing written
    changed = [*rows[:2], ["2025-11-10", "SCH-9", "集中代收", c.id_number, 2026, "380.00"]]
    code, _, err = deposits(tmp_path, changed)
    assert code == 1
    assert err[0].startswith("row 5: 交易流水号: 该交易流水号此前已导入（入库日期 2025-11-10，金额 400.00 元）")
    assert (ReconciliationRun.objects.count(), TaxDeposit.objects.count()) == (1, 3)
    assert ledger_check() == []


def test_a_faulty_deposit_file_is_rejected(tmp_path):
    code, summary, err = deposits(tmp_path, [["昨天", "T-1", "比特币", "123", "26", "abc"]])
    assert code == 1
    assert summary == {"rows": 1, "matched": 0, "missing_here": 0, "missing_there": 0, "amount_differs": 0}
    assert err[:3] == ["row 3: 入库日期: 应为日期，如 2025-11-10，收到 '昨天'",
                       "row 3: 待遇年度: 应为四位年份，收到 '26'",
                       "row 3: 渠道: 未知缴费渠道 '比特币'"]
    assert not ReconciliationRun.objects.exists() and not TaxDeposit.objects.exists()


def test_a_deposit_whose_transaction_id_is_another_persons_payment_is_not_matched(tmp_path, pupils):  # noqa: F811
    pay_command(tmp_path, school_rows(pupils))
    a, b, c = pupils
    rows = [["2025-11-10", "SCH-1", "集中代收", a.id_number, 2026, "400.00"],
            ["2025-11-10", "SCH-2", "集中代收", c.id_number, 2026, "400.00"],  # SCH-2 is b's payment here
            ["2025-11-10", "SCH-3", "集中代收", c.id_number, 2025, "400.00"]]  # SCH-3 is c's, for 2026
    code, summary, _ = deposits(tmp_path, rows)
    assert code == 0
    assert summary == {"rows": 3, "matched": 1, "missing_here": 2, "missing_there": 2, "amount_differs": 0}
    items = sorted(ReconciliationItem.objects.values_list("kind", "txn_id", "id_number"))
    assert items == [("missing_here", "SCH-2", c.id_number), ("missing_here", "SCH-3", c.id_number),
                     ("missing_there", "SCH-2", b.id_number), ("missing_there", "SCH-3", c.id_number)]
