"""Hostile checks of import_tax_deposits (INTERFACES.md §4): a college student's whole course
paid at once through the channel API is one transaction for the tax bureau (one deposit of
the whole sum) and one ledger record per year here (``txn#year``) — it must reconcile as
matched, not as an amount difference plus a payment per later year missing there."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from enrollment.tests.support import person, register
from payments.models import Payment, ReconciliationItem, ReconciliationRun

from .test_api import NOV, business_date, call, carried, pay  # noqa: F401 (fixtures)
from .test_reconcile import deposits

pytestmark = pytest.mark.usefixtures("policies")


@pytest.fixture
def course(call, business_date):
    stu = person("141102", "20050301", "021", name="赵同学", student="college")
    carried(stu, 2025)
    register(stu, 2026, NOV)
    resp = call("post", "/api/v1/payments", pay(stu, txn_id="C-1", amount="1600.00", course_years=4))
    assert resp.status_code == 201, resp.json()
    assert Payment.objects.filter(txn_id__startswith="C-1").count() == 4
    return stu


def test_a_course_paid_at_once_reconciles_with_its_one_deposit(tmp_path, course):
    code, summary, err = deposits(tmp_path, [["2025-11-10", "C-1", "wechat", course.id_number, 2026, "1600.00"]])
    assert (code, err) == (0, [])
    assert summary == {"rows": 1, "matched": 1, "missing_here": 0, "missing_there": 0, "amount_differs": 0}
    run = ReconciliationRun.objects.get()
    assert (run.matched, run.missing_there, run.amount_differs) == (1, 0, 0)
    assert not ReconciliationItem.objects.exists()


def test_a_course_deposit_of_another_sum_is_an_amount_difference_of_the_whole_course(tmp_path, course):
    code, summary, _ = deposits(tmp_path, [["2025-11-10", "C-1", "wechat", course.id_number, 2026, "400.00"]])
    assert code == 0
    assert summary == {"rows": 1, "matched": 0, "missing_here": 0, "missing_there": 0, "amount_differs": 1}
    item = ReconciliationItem.objects.get()
    assert (item.kind, item.txn_id, item.our_amount, item.their_amount) == (
        "amount_differs", "C-1", Decimal("1600.00"), Decimal("400.00"))


def test_a_course_missing_from_the_file_is_one_payment_missing_there(tmp_path, course, call):
    other = person("141102", "19800501", name="李四")
    carried(other, 2025)
    register(other, 2026, NOV)
    assert call("post", "/api/v1/payments", pay(other, txn_id="WX-2")).status_code == 201
    code, summary, _ = deposits(tmp_path, [["2025-11-10", "WX-2", "wechat", other.id_number, 2026, "400.00"]])
    assert code == 0
    assert summary == {"rows": 1, "matched": 1, "missing_here": 0, "missing_there": 1, "amount_differs": 0}
    item = ReconciliationItem.objects.get()
    assert (item.kind, item.txn_id, item.our_amount) == ("missing_there", "C-1", Decimal("1600.00"))
    json.dumps(summary)
