"""The December batch (共济缴费批量划扣) on a hand-made set of Shanghai families, benefit year
2025 (cut-off 2024-12-20 17:00, batch from 12-21, results from 12-28).  Every child costs
355.00 (004 (二)Q13)."""

from __future__ import annotations

import json
import threading
from datetime import date, datetime
from decimal import Decimal
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.models import Sum

from core.models import BatchRun
from enrollment.models import Enrollment
from enrollment.tests.support import number, person, register
from family_pool.batch import remittance_csv, run_pool_batch
from family_pool.deductions import deduction_view
from family_pool.models import (AccountEntry, EmployeeAccount, ModeChange, Network, Participation,
                                PoolDeduction)
from family_pool.tasks import schedule_pool_batches
from payments.models import Payment
from payments.services import ledger_check, payment_record

SH = ZoneInfo("Asia/Shanghai")
YEAR = 2025
AT = datetime(2024, 12, 22, 10, 0, tzinfo=SH)


def t(month: int, day: int, hour: int = 10) -> datetime:
    return datetime(2024, month, day, hour, 0, tzinfo=SH)


_seq = iter(range(100, 999))


def family(balance: str, children: int, *, modes=((t(12, 1), True),), tag: str = "x") -> tuple[Network, list]:
    """An organizer with ``balance`` on the historical account (one import entry) and
    ``children`` registered (unpaid) for 2025; ``modes``: the premium mode's history."""
    org_number = number("310101", "19800101", f"{next(_seq):03d}")
    account = EmployeeAccount.objects.create(id_number=org_number, name=f"组建人{tag}", insured_region="310000",
                                             historical_balance=Decimal(balance), current_balance=0)
    AccountEntry.objects.create(account=account, bucket="historical", kind="import", amount=Decimal(balance))
    net = Network.objects.create(organizer_id_number=org_number, organizer_name=f"组建人{tag}", account=account,
                                 region_id="310000", premium_mode=modes[-1][1], created_at=t(11, 1))
    Participation.objects.create(network=net, id_number=org_number, name=f"组建人{tag}", role="organizer",
                                 joined_at=t(11, 1))
    for at, on in modes:
        ModeChange.objects.create(network=net, medical_mode=False, premium_mode=on, changed_at=at)
    kids = []
    for i in range(children):
        kid = person("310101", f"2015030{i + 1}", f"{next(_seq):03d}", name=f"孩子{tag}{i + 1}",
                     student="primary_secondary", today=date(2024, 12, 1))
        register(kid, YEAR, date(2024, 12, 1), via="school")
        Participation.objects.create(network=net, id_number=kid.id_number, name=kid.name, role="member",
                                     relation="child", registered_via="school", joined_at=t(11, 2))
        kids.append(kid)
    return net, kids


def families():
    """A: two children, plenty; B: two children share 500 (second short); C: exactly 355;
    D: premium cancelled before the cut-off; E: cancelled after it; F: one child paid by
    WeChat after the cut-off; G: premium chosen only after the cut-off."""
    fam = {
        "A": family("1000.00", 2, tag="A"),
        "B": family("500.00", 2, tag="B"),
        "C": family("355.00", 1, tag="C"),
        "D": family("1000.00", 1, modes=((t(12, 1), True), (t(12, 20, 16), False)), tag="D"),
        "E": family("1000.00", 1, modes=((t(12, 1), True), (t(12, 20, 18), False)), tag="E"),
        "F": family("1000.00", 2, tag="F"),
        "G": family("1000.00", 1, modes=((t(12, 1), False), (t(12, 21), True)), tag="G"),
    }
    wx = fam["F"][1][0]
    payment_record(channel="wechat", txn_id="wx-after-cutoff", id_number=wx.id_number, name=wx.name, year=YEAR,
                   amount=Decimal("355.00"), paid_at=t(12, 21, 9), actor=None)
    return fam


def assert_books_balance():
    assert ledger_check() == []
    for a in EmployeeAccount.objects.all():
        total = a.entries.filter(bucket="historical").aggregate(s=Sum("amount"))["s"] or 0
        assert a.historical_balance == total, a


def status_of(kid) -> str | None:
    d = PoolDeduction.objects.filter(id_number=kid.id_number, year=YEAR).order_by("-id").first()
    return d and d.status


EXPECTED = {"deducted": 5, "amount": "1775.00", "skipped_already_paid": 1, "insufficient_balance": 2, "failed": 0}


@pytest.mark.django_db
def test_december_batch_exact_results(policies):
    fam = families()
    out = StringIO()
    call_command("run_pool_batch", region="310000", year=YEAR, at=AT.isoformat(), chunk_size=2, stdout=out)
    summary = json.loads(out.getvalue())
    assert list(summary) == ["run_id", "deducted", "amount", "skipped_already_paid", "insufficient_balance",
                             "failed"]
    assert {k: v for k, v in summary.items() if k != "run_id"} == EXPECTED
    run = BatchRun.objects.get(pk=summary["run_id"])
    assert (run.kind, run.scope, run.status) == ("pool_batch", f"310000-{YEAR}", "done")

    (a1, a2), (b1, b2), (c1,), (d1,), (e1,), (f1, f2), (g1,) = (fam[k][1] for k in "ABCDEFG")
    assert [status_of(k) for k in (a1, a2, b1, b2, c1, d1, e1, f1, f2, g1)] == [
        "deducted", "deducted", "deducted", "insufficient_balance", "insufficient_balance", None, "deducted",
        "skipped_already_paid", "deducted", None]
    # two children share B's 500.00: the first (by ID number) takes 355.00, 145.00 is left
    b_short = PoolDeduction.objects.get(id_number=b2.id_number)
    assert b_short.shortfall == Decimal("210.01")  # 355 − 145 + 0.01: the least top-up to exceed it
    # an equal balance is not enough (004: 大于)
    assert PoolDeduction.objects.get(id_number=c1.id_number).shortfall == Decimal("0.01")
    balances = {k: EmployeeAccount.objects.get(pk=fam[k][0].account_id).historical_balance for k in "ABCEF"}
    assert balances == {"A": Decimal("290.00"), "B": Decimal("145.00"), "C": Decimal("355.00"),
                        "E": Decimal("645.00"), "F": Decimal("645.00")}
    # the payment: channel family_pool, paid by the pool, at the batch's time, on the enrollment
    d = PoolDeduction.objects.select_related("payment", "entry", "member").get(id_number=a1.id_number)
    p = d.payment
    assert (p.channel, p.payer_kind, p.txn_id, p.paid_at, p.amount) == (
        "family_pool", "pool", f"pool-{YEAR}-{d.member_id}", AT, Decimal("355.00"))
    assert (d.entry.bucket, d.entry.kind, d.entry.amount) == ("historical", "pool_premium", Decimal("-355.00"))
    e = Enrollment.objects.get(pk=p.enrollment_id)
    # deducted from 12-21 for a premium committed by the 12-20 cut-off: priced on the cut-off day,
    # inside the window — benefits from the first day of the year, no late-payment waiting
    assert (e.status, e.benefit_start, e.waiting_months, e.paid_on) == ("paid", date(YEAR, 1, 1), 0, AT.date())
    # the WeChat payer keeps one payment (no duplicate, no refund)
    assert Payment.objects.filter(id_number=f1.id_number).count() == 1
    assert_books_balance()

    csv = remittance_csv(run.pk).splitlines()
    assert len(csv) == 1 + 5 and csv[0].startswith("序号,身份证号码")
    assert {line.split(",")[1] for line in csv[1:]} == {k.id_number for k in (a1, a2, b1, e1, f2)}

    # again: nobody deducted twice; the short ones are decided again; the WeChat payer and the
    # five the pool paid are all paid already — every member counted once (1 + 5 + 2 = 8)
    again = run_pool_batch(region="310000", year=YEAR, at=AT)
    assert again["run_id"] != run.pk
    assert {k: v for k, v in again.items() if k != "run_id"} == {
        "deducted": 0, "amount": "0.00", "skipped_already_paid": 6, "insufficient_balance": 2, "failed": 0}
    assert BatchRun.objects.get(pk=again["run_id"]).summary["already_deducted"] == 5
    from family_pool.jobs import pool_batch_job
    assert pool_batch_job.describe(BatchRun.objects.get(pk=again["run_id"]).summary) == [
        ("扣款成功（人）", 0), ("扣款金额（元）", "0.00"), ("已缴费（跳过）", 6),
        ("其中此前已由共济扣款（未重复扣款）", 5), ("余额不足", 2), ("处理失败", 0)]
    assert PoolDeduction.objects.filter(status="deducted").count() == 5
    assert Payment.objects.filter(channel="family_pool").count() == 5
    assert_books_balance()


@pytest.mark.django_db
def test_citizen_view_processing_before_results_date(policies, settings):
    from core import clock

    fam = families()
    run_pool_batch(region="310000", year=YEAR, at=AT)
    a1, b2 = fam["A"][1][0], fam["B"][1][1]
    settings.BUSINESS_DATE = date(2024, 12, 27)
    assert deduction_view(a1.id_number, YEAR, citizen=True, today=clock.today())["status"] == "processing"
    assert deduction_view(b2.id_number, YEAR, citizen=True, today=clock.today())["status"] == "processing"
    staff = deduction_view(a1.id_number, YEAR, citizen=False, today=clock.today())
    assert (staff["status"], staff["amount"]) == ("deducted", "355.00")
    settings.BUSINESS_DATE = date(2024, 12, 28)
    assert deduction_view(a1.id_number, YEAR, citizen=True, today=clock.today())["status"] == "deducted"
    assert deduction_view(b2.id_number, YEAR, citizen=True, today=clock.today())["status"] == "insufficient_balance"
    assert deduction_view(fam["D"][1][0].id_number, YEAR, citizen=True, today=clock.today()) is None


@pytest.mark.django_db
def test_payment_records_hold_a_pool_deduction_back_until_the_results_date(policies, settings, client,
                                                                              channel_token):
    """The resident's payment-records query shows a pool deduction from the results date, as the
    member's pool view does — before it, counted as not yet visible with the date (hostile pass
    2026-12-02: it showed as deposited on 12-22)."""
    fam = families()
    run_pool_batch(region="310000", year=YEAR, at=AT)
    a1 = fam["A"][1][0]

    def records():
        resp = client.get("/api/v1/payment-records", {"id_number": a1.id_number, "name": a1.name, "year": YEAR},
                          HTTP_AUTHORIZATION=f"Bearer {channel_token}")
        assert resp.status_code == 200, resp.content
        return resp.json()

    settings.BUSINESS_DATE = date(2024, 12, 27)
    body = records()
    assert (body["records"], body["not_yet_visible"]) == ([], 1)
    assert body["note"] == "家庭共济扣款结果自 2024-12-28 起可查询"
    settings.BUSINESS_DATE = date(2024, 12, 28)
    body = records()
    assert body["not_yet_visible"] == 0 and body["note"] == ""
    assert body["records"] == [{"channel": "family_pool", "deposited_at": AT.isoformat(), "status": "deposited"}]


@pytest.mark.django_db
def test_schedule_starts_once_from_the_start_date(policies):
    families()
    assert schedule_pool_batches("2024-12-20") == []
    assert schedule_pool_batches("2024-12-21") == [f"310000-{YEAR}"]
    assert schedule_pool_batches("2024-12-22") == []  # queued: joined, not doubled
    assert BatchRun.objects.filter(kind="pool_batch").count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_runs_started_at_once_are_one(policies):
    families()
    barrier, results, errors = threading.Barrier(2), [], []

    def go():
        try:
            barrier.wait()
            results.append(run_pool_batch(region="310000", year=YEAR, at=AT, chunk_size=1))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=go) for _ in range(2)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(60)
    assert not errors, errors
    assert results[0] == results[1]  # one run, joined
    assert {k: v for k, v in results[0].items() if k != "run_id"} == EXPECTED
    assert BatchRun.objects.filter(kind="pool_batch").count() == 1
    assert PoolDeduction.objects.filter(status="deducted").count() == 5
    assert Payment.objects.filter(channel="family_pool").count() == 5
    assert_books_balance()


@pytest.mark.django_db
def test_a_refund_of_a_pool_deduction_goes_back_to_the_organizers_account(policies):
    """Cancelling a year the pool paid: the refund credits the organizer's historical balance
    (an account entry), the refund record names the pool as payer — never money to the member
    (hostile pass 2026-12-02: the refund was a payout to the child, the account never credited)."""
    from enrollment.tests.support import caseworker
    from family_pool.deductions import deduction_check
    from family_pool.accounts import account_check
    from payments import refunds

    fam = families()
    run_pool_batch(region="310000", year=YEAR, at=AT)
    a1 = fam["A"][1][0]
    d = PoolDeduction.objects.select_related("network__account").get(id_number=a1.id_number, status="deducted")
    account = d.network.account
    before = EmployeeAccount.objects.get(pk=account.pk).historical_balance
    e = Enrollment.objects.get(resident=a1, year=YEAR)
    one, two = caseworker("sh1", "310000"), caseworker("sh2", "310000")
    r = refunds.enrollment_cancel_paid(enrollment=e, reason="随父母迁出本市", actor=one)
    refunds.refund_decide(refund=r, approve=True, actor=two)
    p = refunds.refund_pay(refund=r, actor=one)

    assert (p.kind, p.amount, p.refund_of_id, p.payer_kind, p.payer_id) == (
        "refund", Decimal("-355.00"), d.payment_id, "pool", d.payment.payer_id)
    assert EmployeeAccount.objects.get(pk=account.pk).historical_balance == before + Decimal("355.00")
    back = AccountEntry.objects.filter(account=account, kind="pool_refund").get()
    assert (back.bucket, back.amount) == ("historical", Decimal("355.00"))
    assert f"退费申请 {r.pk}" in back.note
    assert account_check() == [] and ledger_check() == [] and deduction_check() == []
    assert_books_balance()


@pytest.mark.django_db
def test_a_refund_of_a_wechat_payment_in_a_pool_family_stays_the_payers(policies):
    from enrollment.tests.support import caseworker
    from payments import refunds

    fam = families()
    run_pool_batch(region="310000", year=YEAR, at=AT)
    f1 = fam["F"][1][0]  # paid by WeChat before the batch: skipped
    entries = AccountEntry.objects.count()
    e = Enrollment.objects.get(resident=f1, year=YEAR)
    one, two = caseworker("sh1", "310000"), caseworker("sh2", "310000")
    r = refunds.enrollment_cancel_paid(enrollment=e, reason="随父母迁出本市", actor=one)
    refunds.refund_decide(refund=r, approve=True, actor=two)
    p = refunds.refund_pay(refund=r, actor=one)
    assert (p.payer_kind, p.amount) == ("self", Decimal("-355.00"))
    assert AccountEntry.objects.count() == entries
