"""The December batch (共济缴费批量划扣, POLICY.md §6, INTERFACES.md §6): members' resident
contributions deducted from their organizer's historical balance.

One chunk = one key range of network ids, in one transaction (the engine's chunk):

1. **who** (one query): the networks of the region (and its counties) that are active and
   whose premium mode stood ON at the cut-off (``PolicyYear.pool_premium_cutoff``: the
   last ``ModeChange`` at or before it; later changes are ignored; a network without any
   mode history counts with its current mode if it existed at the cut-off), their members
   active at the cut-off (joined at or before it, not left by then) who hold a live
   enrollment for the year in the region — members already *deducted* for the year by any
   run are left out (a re-run, a replayed chunk, a second run decide nobody twice);
2. **locks**, always in this order: the organizers' accounts (``FOR UPDATE``, by id), then
   the members' enrollments (``FOR UPDATE``, by id) — and the status is read again under
   the lock: whoever is paid by then (any channel, also after the cut-off) is
   ``skipped_already_paid``;
3. **order** within a network (fixed, documented): by relation — child, spouse, parent,
   grandparent, maternal grandparent, grandchild, maternal grandchild, sibling — then by
   ID number.  Each member in turn against what is left of the one historical balance; a
   member who does not fit does not stop the next one;
4. **rule** (004: 大于): deduct only when the balance is GREATER than the contribution.
   Otherwise ``insufficient_balance`` with ``shortfall = amount − balance + 0.01`` — the
   least top-up after which the balance exceeds the contribution (an equal balance:
   0.01);
5. **write**, per deduction, inside a savepoint: the payment via
   ``payments.services.payment_record`` (channel family_pool, payer_kind pool, txn
   ``pool-{year}-{participation id}``, paid at the batch's ``at``), the account entry
   (historical bucket, ``pool_premium``, −amount) with the cached balance moved by the
   same amount (``F()``), and the ``PoolDeduction`` row.  The unique constraint on
   (member, year) for deductions is the last guard: if it fires the savepoint goes back
   and the member is counted as already deducted.

The remittance file for the tax bureau is derived from the run's ``deducted`` rows
(``remittance_rows``).
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import IntegrityError, connection, transaction
from django.db.models import F

from core.audit import audit_context
from enrollment.models import Enrollment, EnrollmentStatus, Resident
from enrollment.selectors import PersonFacts, quote_requests_for
from enrollment.services import EnrollmentError, run_quote, spec_for
from payments.models import PayerKind
from payments.services import PaymentError, local_day, payment_record
from policy.models import PolicyYear
from policy.selectors import policy_members

from .models import AccountEntry, AccountStatus, EmployeeAccount, PoolDeduction

CHUNK = 500  # networks per chunk
CENT = Decimal("0.01")
RELATION_ORDER = ["child", "spouse", "parent", "grandparent", "maternal_grandparent", "grandchild",
                  "maternal_grandchild", "sibling"]
SUMMARY_KEYS = ("deducted", "amount", "skipped_already_paid", "insufficient_balance", "failed")


class PoolBatchError(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code, self.message = code, message


def pool_policy(region: str, year: int) -> PolicyYear:
    """The region's policy year with its pool dates; refuses a region without 共济缴费."""
    py = PolicyYear.objects.filter(region_id=region, year=year).first()
    if py is None:
        raise PoolBatchError("not_found", f"{region} 没有 {year} 年度的政策")
    if not py.pool_premium_payment or py.pool_premium_cutoff is None:
        raise PoolBatchError("invalid_input", f"{region} {year} 年度政策没有共济缴费（或未设截止时间）")
    return py


# The networks whose premium mode stood on at the cut-off: the last change at or before it;
# without any change recorded, the network's mode if it existed then.
_NETWORKS = """
SELECT n.id FROM family_pool_network n
WHERE n.region_id = ANY(%(regions)s) AND n.status = 'active' AND n.id > %(lo)s AND n.id <= %(hi)s
  AND COALESCE(
    (SELECT mc.premium_mode FROM family_pool_modechange mc
     WHERE mc.network_id = n.id AND mc.changed_at <= %(cutoff)s
     ORDER BY mc.changed_at DESC, mc.id DESC LIMIT 1),
    (n.created_at <= %(cutoff)s AND n.premium_mode
     AND NOT EXISTS (SELECT 1 FROM family_pool_modechange m2 WHERE m2.network_id = n.id)))
"""

_MEMBERS = f"""
WITH nets AS ({_NETWORKS})
SELECT p.id, p.network_id, n.account_id, p.id_number, p.name, p.relation, e.id, n.organizer_id_number,
       n.organizer_name
FROM nets JOIN family_pool_network n ON n.id = nets.id
JOIN family_pool_participation p ON p.network_id = n.id AND p.role = 'member'
     AND p.joined_at <= %(cutoff)s AND (p.left_at IS NULL OR p.left_at > %(cutoff)s)
JOIN enrollment_resident r ON r.id_number = p.id_number
JOIN enrollment_enrollment e ON e.resident_id = r.id AND e.year = %(year)s AND e.status <> 'cancelled'
     AND e.region_id = ANY(%(regions)s)
WHERE NOT EXISTS (SELECT 1 FROM family_pool_pooldeduction d
                  WHERE d.id_number = p.id_number AND d.year = %(year)s AND d.status = 'deducted')
ORDER BY p.network_id, p.id
"""

_RANGES = f"""
SELECT max(id), count(*) FROM (
  SELECT id, (row_number() OVER (ORDER BY id) - 1) / %(size)s AS bucket FROM ({_NETWORKS}) s
) b GROUP BY bucket ORDER BY bucket
"""


def _params(region: str, year: int, lo: int, hi: int) -> dict:
    py = pool_policy(region, year)
    return {"regions": policy_members(region), "cutoff": py.pool_premium_cutoff, "year": year,
            "lo": lo, "hi": hi}


def network_ranges(region: str, year: int, chunk_size: int = CHUNK) -> tuple[list[tuple[int, int]], int]:
    """Key ranges ``(lo, hi]`` of about ``chunk_size`` deducting networks, and their number."""
    params = {**_params(region, year, 0, 2**62), "size": chunk_size}
    with connection.cursor() as cur:
        cur.execute(_RANGES, params)
        buckets = cur.fetchall()
    ranges, lo = [], 0
    for hi, _ in buckets:
        ranges.append((lo, hi))
        lo = hi
    return ranges, sum(n for _, n in buckets)


@dataclass
class Candidate:
    participation_id: int
    network_id: int
    account_id: int
    id_number: str
    name: str
    relation: str
    enrollment_id: int
    organizer_id_number: str
    organizer_name: str

    def order_key(self):
        rank = RELATION_ORDER.index(self.relation) if self.relation in RELATION_ORDER else len(RELATION_ORDER)
        return (self.network_id, rank, self.id_number)


def _candidates(params: dict) -> list[Candidate]:
    with connection.cursor() as cur:
        cur.execute(_MEMBERS, params)
        return sorted((Candidate(*row) for row in cur.fetchall()), key=Candidate.order_key)


def _lock_accounts(ids: set[int]) -> dict[int, EmployeeAccount]:
    return {a.pk: a for a in EmployeeAccount.objects.select_for_update().filter(pk__in=ids).order_by("pk")}


def _lock_enrollments(ids: list[int]) -> dict[int, Enrollment]:
    return {e.pk: e for e in Enrollment.objects.select_for_update().select_related("resident")
            .filter(pk__in=ids).order_by("pk")}


def _amounts_due(enrollments: list[Enrollment], region: str, year: int, paid_on) -> dict[int, Decimal]:
    """What each unpaid enrollment costs on the payment date, priced as ``payment_record``
    prices it (the batch selector, one batch for the chunk)."""
    facts = [PersonFacts.of(e.resident, via_parent_permit=e.nonlocal_via_parent_permit) for e in enrollments]
    requests = quote_requests_for(facts, year, paid_on) if facts else {}
    specs, out = {}, {}
    for e in enrollments:
        spec = specs.get(e.region_id) or specs.setdefault(e.region_id, spec_for(e.region_id, year))
        out[e.pk] = run_quote(spec, requests[e.resident.id_number]).amount_due
    return out


def process_networks(*, region: str, year: int, lo: int, hi: int, at: datetime, run_id: int | None,
                     actor) -> dict:
    """Decide every member of the deducting networks with ``lo < id <= hi`` (the caller's
    chunk transaction); returns the chunk's counts."""
    params = _params(region, year, lo, hi)
    counts: Counter = Counter(processed=0, succeeded=0, failed=0, deducted=0, amount_fen=0, members=0,
                              skipped_already_paid=0, insufficient_balance=0, already_deducted=0)
    with transaction.atomic(), audit_context(actor, action="pool_batch", region=region, year=year):
        with connection.cursor() as cur:  # progress is counted in networks (the plan's items)
            cur.execute(f"SELECT count(*) FROM ({_NETWORKS}) s", params)
            counts["processed"] = cur.fetchone()[0]
        members = _candidates(params)
        if not members:
            return dict(counts)
        accounts = _lock_accounts({m.account_id for m in members})
        enrollments = _lock_enrollments(sorted({m.enrollment_id for m in members}))
        # priced on the cut-off day: the premium the organizer committed by then (not a late payment)
        priced_on = min(local_day(at), local_day(params["cutoff"]))
        unpaid = [e for e in enrollments.values() if e.status == EnrollmentStatus.REGISTERED]
        try:
            due = _amounts_due(unpaid, region, year, priced_on)
            priced = ""
        except EnrollmentError as exc:  # the year cannot be priced: every unpaid member fails
            due, priced = {}, exc.message[:200]
        for m in members:
            e = enrollments.get(m.enrollment_id)
            outcome = _decide(m, e, accounts[m.account_id], due, priced, region=region, year=year, at=at,
                              run_id=run_id, actor=actor, priced_on=priced_on)
            counts["members"] += 1
            counts[outcome[0]] += 1
            if outcome[0] == "deducted":
                counts["amount_fen"] += int(outcome[1] * 100)
    counts["succeeded"] = counts["deducted"]
    return dict(counts)


def _row(m: Candidate, e: Enrollment | None, *, region: str, year: int, run_id, status: str,
         amount: Decimal, **kw) -> PoolDeduction:
    return PoolDeduction.objects.create(
        run_id=run_id, network_id=m.network_id, member_id=m.participation_id, id_number=m.id_number,
        name=m.name, region_id=e.region_id if e else region, year=year, enrollment=e, amount=amount,
        status=status, **kw)


def _decide(m: Candidate, e: Enrollment | None, account: EmployeeAccount, due: dict, priced: str, *,
            region: str, year: int, at: datetime, run_id, actor, priced_on) -> tuple[str, Decimal]:
    S = PoolDeduction.Status
    if e is None or e.status == EnrollmentStatus.CANCELLED:  # cancelled since it was read
        return "already_deducted", Decimal(0)
    if e.status == EnrollmentStatus.PAID:
        _row(m, e, region=region, year=year, run_id=run_id, status=S.SKIPPED_PAID,
             amount=e.paid_amount or e.amount_due or Decimal(0), note=f"已通过 {e.get_paid_via_display()} 缴费")
        return "skipped_already_paid", Decimal(0)
    amount = due.get(e.pk)
    if amount is None:
        _row(m, e, region=region, year=year, run_id=run_id, status=S.FAILED, amount=e.amount_due or Decimal(0),
             note=priced or "无法核定应缴金额")
        return "failed", Decimal(0)
    if account.status == AccountStatus.FROZEN:
        _row(m, e, region=region, year=year, run_id=run_id, status=S.FAILED, amount=amount,
             note="组建人个人账户已冻结")
        return "failed", Decimal(0)
    balance = account.historical_balance
    if not balance > amount:  # 004: 余额须大于应缴金额，相等亦不足
        _row(m, e, region=region, year=year, run_id=run_id, status=S.INSUFFICIENT, amount=amount,
             shortfall=amount - balance + CENT, note=f"历年账户余额 {balance:.2f} 元")
        return "insufficient_balance", Decimal(0)
    try:
        with transaction.atomic():
            _deduct(m, e, account, amount, region=region, year=year, at=at, run_id=run_id, actor=actor,
                    priced_on=priced_on)
    except IntegrityError:  # deducted meanwhile by another run: the constraint's guard
        return "already_deducted", Decimal(0)
    except (PaymentError, EnrollmentError) as exc:
        _row(m, e, region=region, year=year, run_id=run_id, status=S.FAILED, amount=amount,
             note=exc.message[:200])
        return "failed", Decimal(0)
    account.historical_balance = balance - amount
    return "deducted", amount


def _deduct(m: Candidate, e: Enrollment, account: EmployeeAccount, amount: Decimal, *, region: str,
            year: int, at: datetime, run_id, actor, priced_on) -> None:
    """One deduction: payment, account entry and cached balance, PoolDeduction — all or nothing."""
    recorded = payment_record(
        channel="family_pool", txn_id=f"pool-{year}-{m.participation_id}", id_number=m.id_number, name=m.name,
        year=year, amount=amount, paid_at=at, actor=actor, payer_kind=PayerKind.POOL,
        payer_id=m.organizer_id_number, payer_name=m.organizer_name, check_name=False, priced_on=priced_on,
        note=f"家庭共济缴费（共济网 #{m.network_id}）")
    if recorded.status != 201:
        raise PaymentError("already_paid", "该年度已缴费")
    entry = AccountEntry.objects.create(
        account=account, bucket=AccountEntry.Bucket.HISTORICAL, kind=AccountEntry.Kind.POOL_PREMIUM,
        amount=-amount, created_at=at, actor=f"共济缴费批量划扣 #{run_id or ''}"[:200],
        note=f"{m.name} {year} 年度居民医保费（{m.id_number[:6]}…{m.id_number[-4:]}）"[:200])
    EmployeeAccount.objects.filter(pk=account.pk).update(historical_balance=F("historical_balance") - amount)
    _row(m, e, region=region, year=year, run_id=run_id, status=PoolDeduction.Status.DEDUCTED, amount=amount,
         payment=recorded.payment, entry=entry, decided_at=at)


def summary_of(counts: dict) -> dict:
    """INTERFACES.md §6's summary (without run_id) from summed chunk counts; ``amount`` is
    kept in fen while summing (integers only on the engine) and shown as yuan."""
    return {"deducted": counts.get("deducted", 0),
            "amount": f"{Decimal(counts.get('amount_fen', 0)) / 100:.2f}",
            "skipped_already_paid": counts.get("skipped_already_paid", 0),
            "insufficient_balance": counts.get("insufficient_balance", 0),
            "failed": counts.get("failed", 0),
            "already_deducted": counts.get("already_deducted", 0)}


# --- the remittance file ------------------------------------------------------------------------

REMITTANCE_HEADER = ["序号", "身份证号码", "姓名", "参保地", "待遇年度", "缴费金额", "缴费日期", "交易流水号",
                     "缴费人身份证号码", "缴费人姓名", "共济网编号"]


def remittance_rows(run_id: int):
    """One line per deduction of the run, for the tax bureau (ordered by deduction id)."""
    qs = (PoolDeduction.objects.filter(run_id=run_id, status=PoolDeduction.Status.DEDUCTED)
          .select_related("payment").order_by("id"))
    for i, d in enumerate(qs.iterator(chunk_size=2000), 1):
        p = d.payment
        yield [i, d.id_number, d.name, d.region_id, d.year, f"{d.amount:.2f}", p.paid_on.isoformat(), p.txn_id,
               p.payer_id, p.payer_name, d.network_id]


def remittance_csv(run_id: int) -> str:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(REMITTANCE_HEADER)
    w.writerows(remittance_rows(run_id))
    return out.getvalue()


def insufficient_rows(run_id: int):
    """The run's members whose organizer's balance was not enough, with the shortfall."""
    return (PoolDeduction.objects.filter(run_id=run_id, status=PoolDeduction.Status.INSUFFICIENT)
            .select_related("network").order_by("network_id", "id"))


# --- running ------------------------------------------------------------------------------------


def run_pool_batch(*, region: str, year: int, at: datetime, actor=None, chunk_size: int | None = None,
                   dispatch: bool = False) -> dict:
    """The batch on the engine, worked in this process (the command line) — a run of the
    same region and year already going is joined (its ``at`` stands), and this process
    works its remaining chunks beside the workers.  Returns INTERFACES.md §6's summary."""
    from core import batch as engine
    from core.models import BatchRun

    params = {"region": region, "year": year, "at": at.isoformat()}
    if chunk_size:
        params["chunk_size"] = chunk_size
    try:
        started = engine.start("pool_batch", params, actor=actor, dispatch=dispatch)
    except engine.BatchError as exc:
        raise PoolBatchError(exc.code, exc.message) from None
    run = engine.run_inline(started.run)
    if run.status != BatchRun.Status.DONE:
        raise PoolBatchError("batch_failed", f"共济缴费批量划扣（批处理任务 #{run.pk}）失败：{run.report[:500]}")
    return {"run_id": run.pk, **{k: run.summary.get(k) for k in SUMMARY_KEYS}}
