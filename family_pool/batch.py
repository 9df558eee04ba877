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
   member who does not fit does not stop the next one; a member the rules cannot price
   (priced once per chunk by the batch selector, on the cut-off day) fails alone;
4. **rule** (004: 大于): deduct only when the balance is GREATER than the contribution.
   Otherwise ``insufficient_balance`` with ``shortfall = amount − balance + 0.01`` — the
   least top-up after which the balance exceeds the contribution (an equal balance:
   0.01);
5. **write** — two writers, the same rows (``tests/test_batch_bulk.py`` compares them):

   - ``bulk_chunk`` (the batch's): every member decided first, in the order above, with
     what ``payment_record`` would refuse checked beside it (a registration in another
     region than the resident's, the channel's days); then a
     handful of statements for the chunk: the payments (channel family_pool, payer_kind
     pool, txn ``pool-{year}-{participation id}``, paid at the batch's ``at``, the same
     columns and first answer ``payment_record`` writes) by COPY and the enrollments' paid
     columns (``fill_paid``'s) by one ``UPDATE … FROM`` — ``payments.bulk``; the account
     entries (historical bucket, ``pool_premium``, −amount) and the cached balances —
     ``accounts.post_many``; the ``PoolDeduction`` rows by COPY.  If a guard fires there
     (the unique (member, year) deduction, a pool transaction id already taken by another
     payment — not probed for beforehand: it does not happen in a normal run) the chunk's
     savepoint goes back and the chunk is decided again member by member;
   - ``_per_member`` (the reference, and that fallback): per deduction, inside a savepoint,
     the payment via ``payments.services.payment_record``, the account entry with the
     cached balance moved by the same amount (``accounts.post_many`` for one), and the
     ``PoolDeduction`` row; if the unique constraint on (member, year) fires the savepoint
     goes back and the member is counted as already deducted.

The remittance file for the tax bureau is derived from the run's ``deducted`` rows
(``remittance_rows``).
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from psycopg import IntegrityError as PgIntegrityError

from core import clock
from core.gc_pause import cyclic_gc_paused
from core.audit import audit_context
from core.audit_actor import acting_user
from enrollment.models import Enrollment, EnrollmentStatus, PaidVia, Resident
from enrollment.pricing import QuoteMemo
from enrollment.selectors import PersonFacts, quote_requests_for
from enrollment.services import EnrollmentError, run_quote, spec_for
from payments.bulk import CopyText, PaidColumns, applied_body, next_payment_ids, pg_array, write_applied
from payments.models import PayerKind
from payments.services import PAID_VIA, PaymentError, check_channel_rules, local_day, payment_record
from policy.models import PolicyYear
from policy.rules import QuoteError
from policy.selectors import policy_members

from .accounts import post_many
from .models import AccountEntry, AccountStatus, EmployeeAccount, PoolDeduction

CHUNK = 2000  # networks per chunk (about 5,000 members)
WRITERS = ("bulk", "per_member")
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
    py = PolicyYear.objects.select_related("region").filter(region_id=region, year=year).first()
    if py is None:
        raise PoolBatchError("not_found", f"{region} 没有 {year} 年度的政策")
    if not py.pool_premium_payment:
        raise PoolBatchError("invalid_input", f"{py.region.name} {year} 年度政策没有共济缴费，无需批量划扣")
    if py.pool_premium_cutoff is None:
        raise PoolBatchError("value_not_in_source",
                             f"{py.region.name} {year} 年度政策未设定共济缴费选择截止时间（来源文件未给出），"
                             "不能批量划扣；请在政策年度中补充后再运行")
    return py


# The networks whose premium mode stood on at the cut-off: the last change at or before it;
# without any change recorded, the network's mode if it existed then.  The last changes of
# the range are read at once (one index range scan), not by a subquery per network.
_NETWORKS = """
SELECT n.id, n.account_id FROM family_pool_network n
LEFT JOIN (SELECT DISTINCT ON (mc.network_id) mc.network_id, mc.premium_mode FROM family_pool_modechange mc
           WHERE mc.network_id > %(lo)s AND mc.network_id <= %(hi)s AND mc.changed_at <= %(cutoff)s
           ORDER BY mc.network_id, mc.changed_at DESC, mc.id DESC) last ON last.network_id = n.id
WHERE n.region_id = ANY(%(regions)s) AND n.status = 'active' AND n.id > %(lo)s AND n.id <= %(hi)s
  AND COALESCE(last.premium_mode,
    (n.created_at <= %(cutoff)s AND n.premium_mode
     AND NOT EXISTS (SELECT 1 FROM family_pool_modechange m2 WHERE m2.network_id = n.id)))
"""

# The members of those networks (``%(nets)s``: their ids).  "Deducted already" is probed
# per member through the (member, year) index — a LATERAL … LIMIT 1 keeps the probe
# parameterised: the statistics of the deductions table are those of before the run (often
# empty), and an anti-join planned on them compared every member with every deduction
# already made (31 s a chunk at 90,000 deductions; bench/RESULTS.md).
_CANDIDATE_COLUMNS = """p.id, p.network_id, n.account_id, p.id_number, p.name, p.relation, e.id,
       n.organizer_id_number, n.organizer_name, done.hit IS NOT NULL"""
_MEMBERS_FROM = """
FROM family_pool_network n
JOIN family_pool_participation p ON p.network_id = n.id AND p.role = 'member'
     AND p.joined_at <= %(cutoff)s AND (p.left_at IS NULL OR p.left_at > %(cutoff)s)
JOIN enrollment_resident r ON r.id_number = p.id_number
JOIN enrollment_enrollment e ON e.resident_id = r.id AND e.year = %(year)s AND e.status <> 'cancelled'
     AND e.region_id = ANY(%(regions)s)
LEFT JOIN LATERAL (SELECT 1 AS hit FROM family_pool_pooldeduction d
                   WHERE d.id_number = p.id_number AND d.year = %(year)s AND d.status = 'deducted'
                   LIMIT 1) done ON true
WHERE n.id = ANY(%(nets)s::bigint[])
"""
_MEMBERS = f"SELECT {_CANDIDATE_COLUMNS} {_MEMBERS_FROM} ORDER BY p.network_id, p.id"
# The set-based writer's: the same members with what ``_Held`` reads of the enrollment and the
# resident, the enrollments locked in key order — one statement instead of two (a row paid
# meanwhile comes back with its new status; one cancelled meanwhile does not come back).
_HELD_COLUMNS = """e.id, e.status, e.region_id, e.nonlocal_via_parent_permit, e.paid_amount, e.amount_due,
       e.paid_via, r.id, r.id_number, r.name, r.region_id, r.birth_date, r.hukou, r.residence_permit,
       r.residence_permit_expires_on, r.student, e.ctid::text"""
_MEMBERS_LOCKED = f"SELECT {_CANDIDATE_COLUMNS}, {_HELD_COLUMNS} {_MEMBERS_FROM} ORDER BY e.id FOR UPDATE OF e"

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
    deducted_before: bool = False  # by an earlier run of the batch: counted, never decided again

    def order_key(self):
        rank = RELATION_ORDER.index(self.relation) if self.relation in RELATION_ORDER else len(RELATION_ORDER)
        return (self.network_id, rank, self.id_number)


def _candidates(params: dict) -> list[Candidate]:
    with connection.cursor() as cur:
        cur.execute(_MEMBERS, params)
        return sorted((Candidate(*row) for row in cur.fetchall()), key=Candidate.order_key)


def _deducting_networks(params: dict) -> list[tuple[int, int]]:
    """(network id, account id) of the chunk's deducting networks."""
    with connection.cursor() as cur:
        cur.execute(_NETWORKS, params)
        return cur.fetchall()


def _lock_accounts(ids: set[int]) -> dict[int, EmployeeAccount]:
    return {a.pk: a for a in EmployeeAccount.objects.select_for_update().filter(pk__in=ids).order_by("pk")}


def _lock_enrollments(ids: list[int]) -> dict[int, Enrollment]:
    return {e.pk: e for e in Enrollment.objects.select_for_update().select_related("resident")
            .filter(pk__in=ids).order_by("pk")}


def _amounts_due(enrollments: list[Enrollment], region: str, year: int, paid_on) -> tuple[dict[int, Decimal],
                                                                                        dict[int, str]]:
    """What each unpaid enrollment costs on the payment date, priced as ``payment_record``
    prices it (the batch selector, one batch for the chunk); and why, for those that cannot
    be priced (each fails alone, as ``payment_record`` would refuse it)."""
    facts = [PersonFacts.of(e.resident, via_parent_permit=e.nonlocal_via_parent_permit) for e in enrollments]
    requests = quote_requests_for(facts, year, paid_on) if facts else {}
    specs, due, refused = _Specs(year), {}, {}
    for e in enrollments:
        try:
            due[e.pk] = run_quote(specs.get(e.region_id), requests[e.resident.id_number]).amount_due
        except EnrollmentError as exc:
            refused[e.pk] = exc.message[:200]
    return due, refused


class _Specs:
    """The published specs of one year by region, refusals included (``spec_for``'s)."""

    def __init__(self, year: int):
        self.year, self._specs = year, {}

    def get(self, region: str):
        if region not in self._specs:
            try:
                self._specs[region] = spec_for(region, self.year)
            except EnrollmentError as exc:
                self._specs[region] = exc
        spec = self._specs[region]
        if isinstance(spec, EnrollmentError):
            raise EnrollmentError(spec.code, spec.message)
        return spec


def process_networks(*, region: str, year: int, lo: int, hi: int, at: datetime, run_id: int | None,
                     actor, writer: str = "bulk") -> dict:
    """Decide every member of the deducting networks with ``lo < id <= hi`` (the caller's
    chunk transaction); returns the chunk's counts.  ``writer``: ``bulk`` (the set-based
    writer) or ``per_member`` (each deduction through ``payment_record``: the reference the
    set-based writer is tested against, and its fallback)."""
    with cyclic_gc_paused():
        return _process_networks(region=region, year=year, lo=lo, hi=hi, at=at, run_id=run_id, actor=actor,
                                 writer=writer)


def _process_networks(*, region: str, year: int, lo: int, hi: int, at: datetime, run_id: int | None,
                      actor, writer: str) -> dict:
    params = _params(region, year, lo, hi)
    counts: Counter = Counter(processed=0, succeeded=0, failed=0, deducted=0, amount_fen=0, members=0,
                              skipped_already_paid=0, insufficient_balance=0, already_deducted=0)
    with transaction.atomic(), audit_context(actor, action="pool_batch", region=region, year=year):
        nets = _deducting_networks(params)
        params["nets"] = pg_array(pk for pk, _ in nets)
        counts["processed"] = len(nets)  # progress is counted in networks (the plan's items)
        locked = None
        if writer == "per_member":
            members = _candidates(params)
        elif nets:
            members, *locked = _lock_members(params, {account for _, account in nets})
        else:
            members = []
        # members deducted by an earlier run: paid already (by the pool), counted and left alone
        before = sum(1 for m in members if m.deducted_before)
        if before:
            members = [m for m in members if not m.deducted_before]
            counts.update(members=before, already_deducted=before)
        if members:
            ctx = _Chunk(region=region, year=year, at=at, run_id=run_id, actor=actor,
                         priced_on=min(local_day(at), local_day(params["cutoff"])))
            if writer == "per_member":
                counts.update(_per_member(members, ctx))
            else:
                try:
                    with transaction.atomic():
                        counts.update(bulk_chunk(members, ctx, locked))
                except (IntegrityError, PgIntegrityError):
                    # a guard fired (the (member, year) deduction, a transaction id taken meanwhile):
                    # the chunk again member by member, where each guard decides one person
                    counts.update(_per_member(members, ctx))
    counts["succeeded"] = counts["deducted"]
    return dict(counts)


@dataclass(frozen=True)
class _Chunk:
    region: str
    year: int
    at: datetime
    run_id: int | None
    actor: object
    # priced on the cut-off day: the premium the organizer committed by then (not a late payment)
    priced_on: date


def _tally(outcomes) -> Counter:
    counts: Counter = Counter()
    for kind, amount in outcomes:
        counts["members"] += 1
        counts[kind] += 1
        if kind == "deducted":
            counts["amount_fen"] += int(amount * 100)
    return counts


# --- member by member (through payment_record) --------------------------------------------------

def _per_member(members: list[Candidate], c: _Chunk) -> Counter:
    accounts = _lock_accounts({m.account_id for m in members})
    enrollments = _lock_enrollments(sorted({m.enrollment_id for m in members}))
    unpaid = [e for e in enrollments.values() if e.status == EnrollmentStatus.REGISTERED]
    try:
        due, refused = _amounts_due(unpaid, c.region, c.year, c.priced_on)
    except EnrollmentError as exc:  # the facts cannot be gathered: every unpaid member fails
        due, refused = {}, {e.pk: exc.message[:200] for e in unpaid}
    return _tally(_decide(m, enrollments.get(m.enrollment_id), accounts[m.account_id], due, refused, c)
                  for m in members)


def _row(m: Candidate, e: Enrollment | None, c: _Chunk, *, status: str, amount: Decimal, **kw) -> PoolDeduction:
    kw.setdefault("decided_at", c.at)  # every decision of the run is taken as of its moment, not the clock's
    return PoolDeduction.objects.create(
        run_id=c.run_id, network_id=m.network_id, member_id=m.participation_id, id_number=m.id_number,
        name=m.name, region_id=e.region_id if e else c.region, year=c.year, enrollment=e, amount=amount,
        status=status, **kw)


def _decide(m: Candidate, e: Enrollment | None, account: EmployeeAccount, due: dict, refused: dict,
            c: _Chunk) -> tuple[str, Decimal]:
    S = PoolDeduction.Status
    if e is None or e.status == EnrollmentStatus.CANCELLED:  # cancelled since it was read
        return "already_deducted", Decimal(0)
    if e.status == EnrollmentStatus.PAID:
        _row(m, e, c, status=S.SKIPPED_PAID, amount=e.paid_amount or e.amount_due or Decimal(0),
             note=f"已通过 {e.get_paid_via_display()} 缴费")
        return "skipped_already_paid", Decimal(0)
    amount = due.get(e.pk)
    if amount is None:
        _row(m, e, c, status=S.FAILED, amount=e.amount_due or Decimal(0), note=refused.get(e.pk) or "无法核定应缴金额")
        return "failed", Decimal(0)
    if account.status == AccountStatus.FROZEN:
        _row(m, e, c, status=S.FAILED, amount=amount, note=FROZEN_NOTE)
        return "failed", Decimal(0)
    balance = account.historical_balance
    if not balance > amount:  # 004: 余额须大于应缴金额，相等亦不足
        _row(m, e, c, status=S.INSUFFICIENT, amount=amount, shortfall=amount - balance + CENT,
             note=f"历年账户余额 {balance:.2f} 元")
        return "insufficient_balance", Decimal(0)
    try:
        with transaction.atomic():
            _deduct(m, e, account, amount, c)
    except IntegrityError:  # deducted meanwhile by another run: the constraint's guard
        return "already_deducted", Decimal(0)
    except (PaymentError, EnrollmentError) as exc:
        _row(m, e, c, status=S.FAILED, amount=amount, note=exc.message[:200])
        return "failed", Decimal(0)
    account.historical_balance = balance - amount
    return "deducted", amount


def _deduct(m: Candidate, e: Enrollment, account: EmployeeAccount, amount: Decimal, c: _Chunk) -> None:
    """One deduction: payment, account entry and cached balance, PoolDeduction — all or nothing."""
    recorded = payment_record(
        channel="family_pool", txn_id=txn_of(c.year, m), id_number=m.id_number, name=m.name,
        year=c.year, amount=amount, paid_at=c.at, actor=c.actor, payer_kind=PayerKind.POOL,
        payer_id=m.organizer_id_number, payer_name=m.organizer_name, check_name=False, priced_on=c.priced_on,
        note=payment_note(m))
    if recorded.status != 201:
        raise PaymentError("already_paid", "该年度已缴费")
    (entry_id,) = post_many([entry_of(m, amount, c.year)], actor=entry_actor(c.run_id), created_at=c.at)
    _row(m, e, c, status=PoolDeduction.Status.DEDUCTED, amount=amount, payment=recorded.payment,
         entry_id=entry_id)


# What a deduction writes, the same on both paths.
FROZEN_NOTE = "组建人个人账户已冻结"


def txn_of(year: int, m: Candidate) -> str:
    return f"pool-{year}-{m.participation_id}"


def payment_note(m: Candidate) -> str:
    return f"家庭共济缴费（共济网 #{m.network_id}）"


def entry_actor(run_id) -> str:
    return f"共济缴费批量划扣 #{run_id or ''}"[:200]


def entry_of(m: Candidate, amount: Decimal, year: int) -> tuple:
    """The account entry of a deduction: (account id, bucket, kind, amount, note) for ``post_many``."""
    return (m.account_id, AccountEntry.Bucket.HISTORICAL, AccountEntry.Kind.POOL_PREMIUM, -amount,
            f"{m.name} {year} 年度居民医保费（{m.id_number[:6]}…{m.id_number[-4:]}）"[:200])


# --- the set-based chunk writer -----------------------------------------------------------------

_LOCK_ACCOUNTS = f"""
SELECT id, historical_balance, status FROM {EmployeeAccount._meta.db_table}
WHERE id = ANY(%s::bigint[]) ORDER BY id FOR UPDATE"""
_LOCK_ENROLLMENTS = f"""
SELECT e.id, e.status, e.region_id, e.nonlocal_via_parent_permit, e.paid_amount, e.amount_due, e.paid_via,
       r.id, r.id_number, r.name, r.region_id, r.birth_date, r.hukou, r.residence_permit,
       r.residence_permit_expires_on, r.student, e.ctid::text
FROM {Enrollment._meta.db_table} e JOIN {Resident._meta.db_table} r ON r.id = e.resident_id
WHERE e.id = ANY(%s::bigint[]) ORDER BY e.id FOR UPDATE OF e"""
_DEDUCTION_COLUMNS = ("run_id", "network_id", "member_id", "id_number", "name", "region_id", "year", "enrollment_id",
                      "amount", "status", "shortfall", "payment_id", "entry_id", "decided_at", "note")
_PAID_VIA_NAMES = dict(PaidVia.choices)


@dataclass(slots=True)
class _Held:
    """A member's enrollment, locked, with what ``payment_record`` reads of the resident."""

    id: int
    status: str
    region_id: str
    via_parent_permit: bool
    paid_amount: Decimal | None
    amount_due: Decimal | None
    paid_via: str
    resident_id: int
    id_number: str
    name: str
    resident_region: str
    birth_date: date
    hukou: str
    permit: bool
    permit_expires_on: date | None
    student: str
    place: str  # the locked row's ctid: the paid-columns update finds it without the key's index

    def facts(self) -> PersonFacts:
        return PersonFacts(id_number=self.id_number, birth_date=self.birth_date, hukou=self.hukou,
                           residence_permit=self.permit, residence_permit_expires_on=self.permit_expires_on,
                           student=self.student or "", region_id=self.resident_region,
                           resident_id=self.resident_id, via_parent_permit=self.via_parent_permit)


def _fetch(sql: str, params: list) -> list[tuple]:
    with connection.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall()


def _price_bulk(unpaid: list[_Held], c: _Chunk) -> tuple[dict[int, tuple], dict[int, str]]:
    """(spec, quote answer) of each unpaid enrollment on the pricing date — the batch selector
    once for the chunk, answers memoised by identical rule inputs — and why, for those that
    cannot be priced (each fails alone, as on the other path)."""
    if not unpaid:
        return {}, {}
    try:
        requests = quote_requests_for([h.facts() for h in unpaid], c.year, c.priced_on)
    except EnrollmentError as exc:  # the facts cannot be gathered: every unpaid member fails
        return {}, {h.id: exc.message[:200] for h in unpaid}
    specs, memo, out, refused = _Specs(c.year), QuoteMemo(), {}, {}
    for h in unpaid:
        try:
            spec = specs.get(h.region_id)
            out[h.id] = (spec, memo.quote(spec, requests[h.id_number]))
        except EnrollmentError as exc:
            refused[h.id] = exc.message[:200]
        except QuoteError as exc:  # run_quote's message
            refused[h.id] = EnrollmentError(exc.code, exc.message).message[:200]
    return out, refused


def _payment_refusal(h: _Held, spec, rules: dict, c: _Chunk) -> str | None:
    """What ``payment_record`` would refuse this deduction with (its order of checks), or None.
    A transaction id of the pool already taken by another payment (only an import or a
    direct call can take one) is not probed for here: the ledger's unique (channel, txn id)
    fires in the COPY and the chunk is decided again member by member, where
    ``payment_record`` refuses that one member (a probe of every member's id cost some 8 µs
    a member for a case that does not happen in a normal run; bench/RESULTS.md)."""
    if h.region_id != h.resident_region:
        return f"{c.year} 年度登记的参保地与参保人现参保地不一致，请先办理参保人信息变更"
    if h.region_id not in rules:
        try:
            check_channel_rules(spec, "family_pool", local_day(c.at))
            rules[h.region_id] = None
        except PaymentError as exc:
            rules[h.region_id] = exc.message[:200]
    return rules[h.region_id]


def _lock_accounts_bulk(ids) -> dict[int, list]:
    """The accounts locked in key order: id -> [historical balance, status]."""
    return {pk: [balance, status] for pk, balance, status in _fetch(_LOCK_ACCOUNTS, [pg_array(sorted(ids))])}


def _lock_members(params: dict, account_ids: set[int]) -> tuple[list[Candidate], dict[int, list], dict[int, _Held]]:
    """The set-based writer's reads, locks in the fixed order: the networks' accounts, then
    the members with their enrollments (``_MEMBERS_LOCKED``)."""
    accounts = _lock_accounts_bulk(account_ids)
    members, held = [], {}
    for row in _fetch(_MEMBERS_LOCKED, params):
        members.append(Candidate(*row[:10]))
        held[row[10]] = _Held(*row[10:])
    members.sort(key=Candidate.order_key)
    return members, accounts, held


def bulk_chunk(members: list[Candidate], c: _Chunk, locked: tuple[dict, dict] | None = None) -> Counter:
    """The set-based chunk writer: the same decisions as ``_decide`` (same order of rules),
    then a handful of statements — the payments and the enrollments' paid columns
    (``payments.bulk``), the account entries and balances (``accounts.post_many``), the
    ``PoolDeduction`` rows (COPY; the unique (member, year) guard fires here).  ``locked``:
    (accounts, enrollments) as ``_lock_members`` read and locked them; without, they are
    locked here."""
    S = PoolDeduction.Status
    if locked is None:
        accounts = _lock_accounts_bulk({m.account_id for m in members})
        held = {row[0]: _Held(*row) for row in
                _fetch(_LOCK_ENROLLMENTS, [pg_array(sorted({m.enrollment_id for m in members}))])}
    else:
        accounts, held = locked
    priced, refused = _price_bulk([h for h in held.values() if h.status == EnrollmentStatus.REGISTERED], c)
    rules = {}
    rows, deducted, outcomes = [], [], []

    text = CopyText()  # the COPY's text of the repeated times and amounts

    at = text(c.at)  # every decision of the run is taken as of its moment, not the clock's

    def row(m, h, status, amount, shortfall=None, note=""):
        rows.append([c.run_id, m.network_id, m.participation_id, m.id_number, m.name,
                     h.region_id if h else c.region, c.year, h.id if h else None, text(amount), status,
                     text(shortfall), None, None, at, note])

    for m in members:
        h = held.get(m.enrollment_id)
        if h is None or h.status == EnrollmentStatus.CANCELLED:
            outcomes.append(("already_deducted", 0))
            continue
        if h.status == EnrollmentStatus.PAID:
            row(m, h, S.SKIPPED_PAID, h.paid_amount or h.amount_due or Decimal(0),
                note=f"已通过 {_PAID_VIA_NAMES.get(h.paid_via, h.paid_via)} 缴费")
            outcomes.append(("skipped_already_paid", 0))
            continue
        quoted = priced.get(h.id)
        if quoted is None:
            row(m, h, S.FAILED, h.amount_due or Decimal(0), note=refused.get(h.id) or "无法核定应缴金额")
            outcomes.append(("failed", 0))
            continue
        spec, result = quoted
        amount = result.amount_due
        account = accounts[m.account_id]
        if account[1] == AccountStatus.FROZEN:
            row(m, h, S.FAILED, amount, note=FROZEN_NOTE)
            outcomes.append(("failed", 0))
            continue
        if not account[0] > amount:  # 004: 余额须大于应缴金额，相等亦不足
            row(m, h, S.INSUFFICIENT, amount, shortfall=amount - account[0] + CENT,
                note=f"历年账户余额 {account[0]:.2f} 元")
            outcomes.append(("insufficient_balance", 0))
            continue
        refusal = _payment_refusal(h, spec, rules, c)
        if refusal is not None:
            row(m, h, S.FAILED, amount, note=refusal)
            outcomes.append(("failed", 0))
            continue
        account[0] -= amount
        row(m, h, S.DEDUCTED, amount)
        deducted.append((rows[-1], m, h, result))
        outcomes.append(("deducted", amount))
    if deducted:
        _write_deductions(deducted, c)
    with connection.cursor() as cur:
        with cur.copy(f"COPY {PoolDeduction._meta.db_table} ({', '.join(_DEDUCTION_COLUMNS)}) FROM STDIN") as copy:
            for r in rows:
                copy.write_row(r)
    return _tally(outcomes)


def _write_deductions(deducted: list, c: _Chunk) -> None:
    """The payments (as ``payment_record`` writes them: same columns, same first answer), the
    enrollments' paid columns, the account entries and balances; each deduction row gets
    its payment and entry ids."""
    user = acting_user(c.actor)
    who = "" if user is not None else str(c.actor or "")[:200]
    paid_on, recorded_at = local_day(c.at), clock.now()
    ids = next_payment_ids(len(deducted))
    columns, text = PaidColumns(), CopyText()
    at, day, recorded = text(c.at), text(paid_on), text(recorded_at)
    records, paid = [], []
    for pk, (r, m, h, result) in zip(ids, deducted):
        amount = result.amount_due
        records.append((pk, "payment", "applied", "family_pool", txn_of(c.year, m), h.id, h.id_number, h.name,
                        h.region_id, c.year, text(amount), at, day, PayerKind.POOL, m.organizer_id_number[:64],
                        m.organizer_name[:100], "", applied_body(pk, result.benefit_start), 201, recorded,
                        user.pk if user else None, who, payment_note(m)[:200]))
        paid.append((h.id, *columns.of(result, amount=amount, paid_on=paid_on, paid_at=c.at,
                                       paid_via=PAID_VIA["family_pool"])))
        r[11] = pk
    write_applied(records, paid, now=timezone.now(), places={h.id: h.place for _, _, h, _ in deducted})
    entry_ids = post_many([entry_of(m, result.amount_due, c.year) for _, m, _, result in deducted],
                          actor=entry_actor(c.run_id), created_at=c.at)
    for (r, *_), entry_id in zip(deducted, entry_ids):
        r[12] = entry_id


def summary_of(counts: dict) -> dict:
    """INTERFACES.md §6's summary (without run_id) from summed chunk counts; ``amount`` is
    kept in fen while summing (integers only on the engine) and shown as yuan.

    ``skipped_already_paid`` counts every member whose year was paid already: by another
    channel, or by this batch before (a run again, a run beside another) — a member paid by
    the pool is paid by one of the channels.  ``already_deducted`` says how many of them the
    pool had paid, so that every member of the run is counted once in the five figures."""
    return {"deducted": counts.get("deducted", 0),
            "amount": f"{Decimal(counts.get('amount_fen', 0)) / 100:.2f}",
            "skipped_already_paid": counts.get("skipped_already_paid", 0) + counts.get("already_deducted", 0),
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
                   dispatch: bool = False, writer: str | None = None) -> dict:
    """The batch on the engine, worked in this process (the command line) — a run of the
    same region and year already going is joined (its ``at`` stands), and this process
    works its remaining chunks beside the workers.  Returns INTERFACES.md §6's summary."""
    from core import batch as engine
    from core.models import BatchRun

    params = {"region": region, "year": year, "at": at.isoformat()}
    if chunk_size:
        params["chunk_size"] = chunk_size
    if writer:
        params["writer"] = writer
    try:
        started = engine.start("pool_batch", params, actor=actor, dispatch=dispatch)
    except engine.BatchError as exc:
        raise PoolBatchError(exc.code, exc.message) from None
    run = engine.run_inline(started.run)
    if run.status != BatchRun.Status.DONE:
        raise PoolBatchError("batch_failed", f"共济缴费批量划扣（批处理任务 #{run.pk}）失败：{run.report[:500]}")
    return {"run_id": run.pk, **{k: run.summary.get(k) for k in SUMMARY_KEYS}}
