"""The set-based chunk writer (``bulk_chunk``) against the per-member path (each deduction
through ``payments.services.payment_record``): on the same hand-made families, decided once
each way from the same database state, they leave row for row the same payments,
enrollments, account entries, balances and deductions."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from enrollment.models import Enrollment
from enrollment.tests.support import person, register
from family_pool import batch
from family_pool.accounts import account_check
from family_pool.deductions import deduction_check
from family_pool.models import AccountEntry, EmployeeAccount, Participation, PoolDeduction
from payments.models import Payment, Refund
from payments.services import ledger_check, payment_record

from .pool_support import enrolled
from .test_batch import AT, YEAR, families, family, t

pytestmark = pytest.mark.django_db


def more_families(fam: dict) -> dict:
    """H: a frozen account; J: a member the rules cannot price beside a child."""
    fam["H"] = family("1000.00", 1, tag="H")
    EmployeeAccount.objects.filter(pk=fam["H"][0].account_id).update(status="frozen")
    # J: a spouse the rules cannot price (Shanghai's 2025 source gives no adult bands) beside a child
    fam["J"] = family("1000.00", 1, tag="J")
    spouse = enrolled("310101", "19850505", "401", name="配偶J")
    Participation.objects.create(network=fam["J"][0], id_number=spouse.id_number, name=spouse.name, role="member",
                                 relation="spouse", joined_at=t(11, 2))
    return fam


def taken_family(fam: dict) -> dict:
    """I: a transaction id of the pool already used by another payment (an import or a direct
    call can take one; payment_record refuses it: idempotency_conflict) — the second child
    is still deducted."""
    fam["I"] = family("1000.00", 2, tag="I")
    first = fam["I"][0].participations.filter(role="member").order_by("id").first()
    other = person("310101", "20150909", "321", name="别人", student="primary_secondary", today=date(2024, 12, 1))
    register(other, YEAR, date(2024, 12, 1), via="school")
    payment_record(channel="family_pool", txn_id=f"pool-{YEAR}-{first.pk}", id_number=other.id_number,
                   name=other.name, year=YEAR, amount=Decimal("355.00"), paid_at=t(12, 10), actor=None)
    return fam


def snapshot() -> dict:
    """Everything the batch writes, without surrogate ids and write-time clocks."""
    payments = []
    for p in Payment.objects.filter(channel="family_pool").order_by("txn_id").values():
        assert p["response"] is None or p["response"].get("payment_id") == p["id"]
        payments.append({**{k: v for k, v in p.items() if k not in ("id", "recorded_at")},
                         "response": p["response"] and {k: v for k, v in p["response"].items() if k != "payment_id"}})
    entries = list(AccountEntry.objects.order_by("id").values_list("account_id", "bucket", "kind", "amount",
                                                                    "created_at", "actor", "note"))
    deductions = []
    for d in PoolDeduction.objects.select_related("payment", "entry").order_by("id"):
        deductions.append((d.run_id, d.network_id, d.member_id, d.id_number, d.name, d.region_id, d.year,
                           d.enrollment_id, d.amount, d.status, d.shortfall, d.note,
                           d.payment.txn_id if d.payment else None,
                           (d.entry.account_id, d.entry.amount, d.entry.note) if d.entry else None,
                           d.decided_at))
    return {
        "payments": payments,
        "enrollments": [{k: v for k, v in e.items() if k != "updated_at"}
                        for e in Enrollment.objects.order_by("id").values()],
        "accounts": [{k: v for k, v in a.items() if k != "updated_at"}
                     for a in EmployeeAccount.objects.order_by("id").values()],
        "entries": entries,
        "deductions": deductions,
        "refunds": Refund.objects.count(),
    }


def decide(writer: str) -> dict:
    return batch.process_networks(region="310000", year=YEAR, lo=0, hi=2**62, at=AT, run_id=None, actor="bench-test",
                                  writer=writer)


def test_set_based_writer_matches_payment_record_row_for_row(policies, monkeypatch):
    fam = more_families(families())
    with transaction.atomic():
        reference_counts = decide("per_member")
        reference = snapshot()
        transaction.set_rollback(True)
    assert PoolDeduction.objects.count() == 0  # the reference is gone; the same state again
    # the set-based writer decides the chunk itself (a fallback would compare the path with itself)
    monkeypatch.setattr(batch, "_per_member", lambda members, c: pytest.fail("fell back"))
    counts = decide("bulk")
    got = snapshot()

    assert counts == reference_counts
    assert {k: counts[k] for k in ("deducted", "skipped_already_paid", "insufficient_balance", "failed",
                                   "already_deducted", "amount_fen")} == {
        "deducted": 6, "skipped_already_paid": 1, "insufficient_balance": 2, "failed": 2, "already_deducted": 0,
        "amount_fen": 6 * 35500}
    for key in reference:
        assert got[key] == reference[key], key

    # the outcomes themselves, exactly
    by_name = {d.name: d for d in PoolDeduction.objects.all()}
    b2 = by_name["孩子B2"]
    assert (b2.status, b2.amount, b2.shortfall, b2.note) == (
        "insufficient_balance", Decimal("355.00"), Decimal("210.01"), "历年账户余额 145.00 元")
    # every decision is taken as of the run's moment, not the clock's (a run --at a past day)
    assert {d.decided_at for d in by_name.values()} == {AT}
    c1 = by_name["孩子C1"]  # an equal balance is not enough (大于)
    assert (c1.status, c1.shortfall) == ("insufficient_balance", Decimal("0.01"))
    assert (by_name["孩子F1"].status, by_name["孩子F1"].note) == ("skipped_already_paid", "已通过 缴费渠道 缴费")
    assert (by_name["孩子H1"].status, by_name["孩子H1"].note) == ("failed", "组建人个人账户已冻结")
    # a member the rules cannot price fails alone; the child beside them is deducted
    j_spouse = by_name["配偶J"]
    assert (j_spouse.status, j_spouse.amount) == ("failed", Decimal("355.00"))
    assert j_spouse.note.startswith("上海市 2025 年度") and "来源文件未给出" in j_spouse.note
    assert by_name["孩子J1"].status == "deducted"
    assert "孩子D1" not in by_name and "孩子G1" not in by_name  # mode off at the cut-off
    a1 = by_name["孩子A1"]
    p = a1.payment
    assert (p.channel, p.outcome, p.payer_kind, p.payer_id, p.txn_id, p.amount, p.paid_at, p.actor, p.note) == (
        "family_pool", "applied", "pool", fam["A"][0].organizer_id_number, f"pool-{YEAR}-{a1.member_id}",
        Decimal("355.00"), AT, "bench-test", f"家庭共济缴费（共济网 #{fam['A'][0].pk}）")
    assert p.response == {"payment_id": p.pk, "status": "paid", "benefit_start": f"{YEAR}-01-01"}
    e = Enrollment.objects.get(pk=p.enrollment_id)
    assert (e.status, e.paid_amount, e.paid_via, e.paid_on, e.benefit_start, e.benefit_end, e.waiting_months) == (
        "paid", Decimal("355.00"), "family_pool", AT.date(), date(YEAR, 1, 1), date(YEAR, 12, 31), 0)
    assert (a1.entry.bucket, a1.entry.kind, a1.entry.amount, a1.entry.created_at) == (
        "historical", "pool_premium", Decimal("-355.00"), AT)
    assert EmployeeAccount.objects.get(pk=fam["A"][0].account_id).historical_balance == Decimal("290.00")
    assert ledger_check() == [] and account_check() == [] and deduction_check() == []


def test_a_pool_transaction_id_taken_elsewhere_sends_the_chunk_member_by_member(policies, monkeypatch):
    """Not probed for beforehand: the ledger's unique (channel, txn id) fires in the set-based
    write, the chunk goes back and is decided member by member — the same rows as the
    per-member path, the one member refused, the other deducted, nothing twice."""
    taken_family(more_families(families()))
    with transaction.atomic():
        reference_counts = decide("per_member")
        reference = snapshot()
        transaction.set_rollback(True)
    fell_back, real = [], batch._per_member

    def per_member(members, c):
        fell_back.append(len(members))
        return real(members, c)

    monkeypatch.setattr(batch, "_per_member", per_member)
    counts = decide("bulk")
    assert len(fell_back) == 1 and fell_back[0] > 0
    assert counts == reference_counts
    assert (counts["deducted"], counts["failed"]) == (7, 3)
    got = snapshot()
    for key in reference:
        assert got[key] == reference[key], key
    by_name = {d.name: d for d in PoolDeduction.objects.all()}
    i1, i2 = by_name["孩子I1"], by_name["孩子I2"]
    assert (i1.status, i1.note) == ("failed", f"渠道 family_pool 的交易流水号 pool-{YEAR}-{i1.member_id} "
                                              "已用于另一笔不同内容的缴费")
    assert (i2.status, i2.payment.txn_id) == ("deducted", f"pool-{YEAR}-{i2.member_id}")
    assert Payment.objects.filter(channel="family_pool", txn_id=f"pool-{YEAR}-{i1.member_id}").count() == 1
    assert ledger_check() == [] and account_check() == [] and deduction_check() == []


def test_an_enrollment_moved_after_its_lock_sends_the_chunk_member_by_member(policies, monkeypatch):
    """The paid columns are set on the rows' places (ctid) as read under the lock; a row
    written again meanwhile is no longer there: ``RowsMoved``, the chunk goes back and is
    decided member by member — the same rows as the per-member path, nothing half-written."""
    from django.db import connection

    import payments.bulk

    more_families(families())
    with transaction.atomic():
        decide("per_member")
        reference = snapshot()
        transaction.set_rollback(True)
    real, moved, fell_back = batch.write_applied, [], []

    def moving(records, paid, *, now, places=None):
        with connection.cursor() as cur:  # the first row written again after the lock: a new place
            cur.execute("UPDATE enrollment_enrollment SET updated_at = updated_at WHERE id = %s", [paid[0][0]])
        try:
            return real(records, paid, now=now, places=places)
        except payments.bulk.RowsMoved as exc:
            moved.append(str(exc))
            raise

    real_per_member = batch._per_member

    def per_member(members, c):
        fell_back.append(len(members))
        return real_per_member(members, c)

    monkeypatch.setattr(batch, "write_applied", moving)
    monkeypatch.setattr(batch, "_per_member", per_member)
    counts = decide("bulk")
    assert moved == ["1 of 6 enrollments moved since they were locked"] and len(fell_back) == 1
    assert (counts["deducted"], counts["failed"]) == (6, 2)
    got = snapshot()
    for key in reference:
        assert got[key] == reference[key], key
    assert ledger_check() == [] and account_check() == [] and deduction_check() == []


def test_the_scratch_table_update_leaves_the_same_rows(policies, monkeypatch):
    """``payments.bulk.write_applied`` updates the enrollments by one statement per shared
    answer (the batch's case) or, past ``ALIKE_MAX`` answers, from a COPYed scratch table
    (import_payments' case): forced here, the rows are again those of the per-member path."""
    import payments.bulk

    more_families(families())
    with transaction.atomic():
        decide("per_member")
        reference = snapshot()
        transaction.set_rollback(True)
    monkeypatch.setattr(payments.bulk, "ALIKE_MAX", 0)
    monkeypatch.setattr(batch, "_per_member", lambda members, c: pytest.fail("fell back"))
    counts = decide("bulk")
    assert (counts["deducted"], counts["failed"]) == (6, 2)
    got = snapshot()
    for key in reference:
        assert got[key] == reference[key], key
    assert ledger_check() == [] and account_check() == [] and deduction_check() == []


def test_set_based_writer_records_who_in_the_audit_trail(policies):
    from pghistory.models import Context

    fam = families()
    decide("bulk")
    kid = fam["A"][1][0]
    e = Enrollment.objects.get(resident=kid, year=YEAR)
    ev = Enrollment.pgh_event_model.objects.filter(pgh_obj_id=e.pk, pgh_label="update", status="paid").get()
    ctx = Context.objects.get(pk=ev.pgh_context_id)
    assert (ctx.metadata["actor"], ctx.metadata["action"], ctx.metadata["region"]) == (
        "bench-test", "pool_batch", "310000")
    acct = EmployeeAccount.pgh_event_model.objects.filter(pgh_obj_id=fam["A"][0].account_id, pgh_label="update")
    assert [(a.historical_balance, Context.objects.get(pk=a.pgh_context_id).metadata["action"]) for a in acct] == [
        (Decimal("290.00"), "pool_batch")]


def test_a_guard_firing_in_the_set_based_write_redoes_the_chunk_member_by_member(policies, monkeypatch):
    families()
    real = batch.bulk_chunk

    def then_guard(members, c, locked=None):
        real(members, c, locked)  # everything written, then the (member, year) guard fires
        raise IntegrityError("duplicate key value violates unique constraint deduction_once_per_member_year")

    monkeypatch.setattr(batch, "bulk_chunk", then_guard)
    counts = decide("bulk")
    assert (counts["deducted"], counts["insufficient_balance"], counts["skipped_already_paid"]) == (5, 2, 1)
    assert PoolDeduction.objects.filter(status="deducted").count() == 5  # the bulk rows went back: none twice
    assert Payment.objects.filter(channel="family_pool").count() == 5
    assert AccountEntry.objects.filter(kind="pool_premium").count() == 5
    assert ledger_check() == [] and account_check() == [] and deduction_check() == []


def test_the_collector_is_paused_for_a_chunk_and_runs_again_after(policies, monkeypatch):
    import gc

    families()
    seen, real = [], batch.bulk_chunk

    def watching(members, c, locked=None):
        seen.append(gc.isenabled())
        return real(members, c, locked)

    monkeypatch.setattr(batch, "bulk_chunk", watching)
    assert gc.isenabled()
    assert decide("bulk")["deducted"] == 5
    assert (seen, gc.isenabled()) == ([False], True)
    monkeypatch.setattr(batch, "bulk_chunk", lambda members, c, locked=None: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        decide("bulk")
    assert gc.isenabled()  # also after a failing chunk
