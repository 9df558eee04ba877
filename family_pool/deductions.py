"""Reads of the December batch's decisions (PoolDeduction), shared by the membership API,
the staff enrollment API and the admin.

The citizen-facing view hides every decision before the region's results date
(``PolicyYear.pool_results_on``, Shanghai 12-28: INTERFACES.md §6) and shows "processing";
staff always see the actual state.

``deduction_check`` proves what the table's references would have had checked by foreign
keys (it has none: the batch writes them in the transaction that reads or creates what they
point to — family_pool/models.py) and more: every reference points to an existing row, the
member belongs to the deduction's network and is the same person, the enrollment is the
person's for that year and region, the payment and the account entry are the deduction's
own (family_pool channel, same enrollment and amount; the network's account, −amount,
``pool_premium``), and no payment or entry serves two deductions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.db import connection
from django.utils import timezone

from family_pool.models import AccountEntry, Network, Participation, PoolDeduction
from policy.selectors import pool_results_on

PROCESSING = "processing"


def deduction_decision(id_number: str, year: int) -> PoolDeduction | None:
    """The decision that stands for a member and benefit year: the deduction when there is
    one (unique per member and year), else the latest decision of any run."""
    qs = PoolDeduction.objects.filter(id_number=id_number.upper(), year=year)
    return (qs.filter(status=PoolDeduction.Status.DEDUCTED).first()
            or qs.order_by("-decided_at", "-id").first())


def deduction_view(id_number: str, year: int, *, citizen: bool, today: date) -> dict | None:
    """None when the batch has decided nothing for the member and year; else
    ``{"status", "amount", "decided_at"}`` (``decided_at`` null while processing).  ``status`` is the decision
    (deducted / insufficient_balance / skipped_already_paid / failed) — or, for the citizen
    view (``citizen=True``) before the region's results date, ``"processing"``."""
    decision = deduction_decision(id_number, year)
    if decision is None:
        return None
    status = decision.status
    if citizen:
        results_on_day = pool_results_on(decision.region_id, year)
        if results_on_day is None or today < results_on_day:
            status = PROCESSING
    return {
        "status": status,
        "amount": f"{decision.amount:.2f}",
        # Beijing time with its offset (INTERFACES.md §1); none while processing — a deduction is
        # timed at the run's moment, a refusal when decided, so the time would tell the result
        "decided_at": None if status == PROCESSING else timezone.localtime(decision.decided_at).isoformat(),
    }


# --- the integrity check ----------------------------------------------------------------------

# (code, what is wrong, the condition on one deduction ``d`` and its joined rows)
PROBLEMS = (
    ("member_missing", "成员记录不存在", "m.id IS NULL"),
    ("member_mismatch", "成员不属于该共济网或身份证号码不符", "m.id IS NOT NULL AND (m.network_id <> d.network_id OR m.id_number <> d.id_number)"),
    ("network_missing", "共济网不存在", "n.id IS NULL"),
    ("run_missing", "批处理任务不存在", "d.run_id IS NOT NULL AND r.id IS NULL"),
    ("region_missing", "参保地不存在", "g.code IS NULL"),
    ("enrollment_missing", "参保登记不存在", "d.enrollment_id IS NOT NULL AND e.id IS NULL"),
    ("enrollment_mismatch", "参保登记的年度、参保地或参保人与扣款记录不符",
     "e.id IS NOT NULL AND (e.year <> d.year OR e.region_id <> d.region_id "
     "OR res.id_number IS DISTINCT FROM d.id_number)"),
    ("payment_missing", "缴费流水不存在", "d.payment_id IS NOT NULL AND p.id IS NULL"),
    ("payment_mismatch", "缴费流水的渠道、参保登记、年度或金额与扣款记录不符",
     "p.id IS NOT NULL AND (p.channel <> 'family_pool' OR p.enrollment_id IS DISTINCT FROM d.enrollment_id "
     "OR p.year <> d.year OR p.amount <> d.amount)"),
    ("entry_missing", "账户流水不存在", "d.entry_id IS NOT NULL AND a.id IS NULL"),
    ("entry_mismatch", "账户流水的账户、类型或金额与扣款记录不符",
     "a.id IS NOT NULL AND (a.account_id IS DISTINCT FROM n.account_id OR a.kind <> 'pool_premium' "
     "OR a.amount <> -d.amount)"),
    ("payment_shared", "同一缴费流水对应多条扣款记录", "d.payment_id IS NOT NULL AND d.payment_uses > 1"),
    ("entry_shared", "同一账户流水对应多条扣款记录", "d.entry_id IS NOT NULL AND d.entry_uses > 1"),
)
PROBLEM_TEXT = {code: text for code, text, _ in PROBLEMS}


@dataclass(frozen=True)
class DeductionProblem:
    deduction_id: int
    id_number: str
    year: int
    problems: tuple[str, ...]  # codes of PROBLEMS

    def describe(self) -> str:
        return "；".join(PROBLEM_TEXT[c] for c in self.problems)


def _check_sql() -> str:
    from core.models import BatchRun
    from enrollment.models import Enrollment, Resident
    from payments.models import Payment
    from policy.models import Region

    flags = ", ".join(f"CASE WHEN COALESCE(({cond}), false) THEN '{code}' END" for code, _, cond in PROBLEMS)
    # the uses of each payment and entry counted over the whole table (one sort each; the
    # table keeps no index on them), then the run's deductions
    return f"""
SELECT id, id_number, year, problems FROM (
  SELECT d.id, d.id_number, d.year, array_remove(ARRAY[{flags}]::text[], NULL) AS problems
  FROM (SELECT *, count(*) OVER (PARTITION BY payment_id) AS payment_uses,
               count(*) OVER (PARTITION BY entry_id) AS entry_uses
        FROM {PoolDeduction._meta.db_table}) d
  LEFT JOIN {Participation._meta.db_table} m ON m.id = d.member_id
  LEFT JOIN {Network._meta.db_table} n ON n.id = d.network_id
  LEFT JOIN {BatchRun._meta.db_table} r ON r.id = d.run_id
  LEFT JOIN {Region._meta.db_table} g ON g.code = d.region_id
  LEFT JOIN {Enrollment._meta.db_table} e ON e.id = d.enrollment_id
  LEFT JOIN {Resident._meta.db_table} res ON res.id = e.resident_id
  LEFT JOIN {Payment._meta.db_table} p ON p.id = d.payment_id
  LEFT JOIN {AccountEntry._meta.db_table} a ON a.id = d.entry_id
  WHERE %(run)s::bigint IS NULL OR d.run_id = %(run)s::bigint
) c WHERE cardinality(problems) > 0 ORDER BY id"""


def deduction_check(run_id: int | None = None) -> list[DeductionProblem]:
    """The deductions (of one run, or all) whose references are broken or disagree with the
    rows they point to; empty when the table is sound."""
    with connection.cursor() as cur:
        cur.execute(_check_sql(), {"run": run_id})
        return [DeductionProblem(pk, id_number, year, tuple(codes)) for pk, id_number, year, codes in cur.fetchall()]
