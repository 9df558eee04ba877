"""Reads of the December batch's decisions (PoolDeduction), shared by the membership API,
the staff enrollment API and the admin.

The citizen-facing view hides every decision before the region's results date
(``PolicyYear.pool_results_on``, Shanghai 12-28: INTERFACES.md §6) and shows "processing";
staff always see the actual state.
"""

from __future__ import annotations

from datetime import date

from family_pool.models import PoolDeduction

PROCESSING = "processing"


def _results_on(region_id: str, year: int) -> date | None:
    from policy.models import PolicyYear, Region

    region = Region.objects.filter(code=region_id).only("code", "policy_region").first()
    code = region.policy_code if region else region_id
    return (PolicyYear.objects.filter(region_id=code, year=year)
            .values_list("pool_results_on", flat=True).first())


def deduction_decision(id_number: str, year: int) -> PoolDeduction | None:
    """The decision that stands for a member and benefit year: the deduction when there is
    one (unique per member and year), else the latest decision of any run."""
    qs = PoolDeduction.objects.filter(id_number=id_number.upper(), year=year)
    return (qs.filter(status=PoolDeduction.Status.DEDUCTED).first()
            or qs.order_by("-decided_at", "-id").first())


def deduction_view(id_number: str, year: int, *, citizen: bool, today: date) -> dict | None:
    """None when the batch has decided nothing for the member and year; else
    ``{"status", "amount", "decided_at"}``.  ``status`` is the decision
    (deducted / insufficient_balance / skipped_already_paid / failed) — or, for the citizen
    view (``citizen=True``) before the region's results date, ``"processing"``."""
    decision = deduction_decision(id_number, year)
    if decision is None:
        return None
    status = decision.status
    if citizen:
        results_on = _results_on(decision.region_id, year)
        if results_on is None or today < results_on:
            status = PROCESSING
    return {
        "status": status,
        "amount": f"{decision.amount:.2f}",
        "decided_at": decision.decided_at.isoformat(),
    }
