"""共济支付 (POLICY.md §6; 004 Q10, Q18, Q19): a member's self-paid cost met from the pool.

An employee member (one with a usable personal account) first spends their own historical
balance (entry ``own_medical``), then the pool — the organizer's historical balance (entry
``pool_medical``); a resident member draws on the pool only. Nothing goes below zero: what
neither covers stays ``unpaid``. A frozen account pays nothing (neither the member's own nor
the pool). Pool spending is recorded as excluded from other cost-reduction schemes.

Purposes: ``medical`` needs the organizer's 共济支付 mode; ``commercial`` (沪惠保 and the like,
part of 共济缴费, Q10) needs 共济缴费. Idempotent on ``request_id``: the same request again
returns the first settlement; a different request under the same id → idempotency_conflict.
"""

from __future__ import annotations

import re
from decimal import Decimal

from django.db import IntegrityError, transaction

from core.audit import audit_context

from .accounts import Bucket, Kind, post
from .models import AccountStatus, EmployeeAccount, MedicalSettlement, Participation
from .networks import PoolError, _actor_text, _lock_network, _number
from .rules import ZERO, split_cost

PURPOSES = ("medical", "commercial")


_COST = re.compile(r"[0-9]{1,8}(?:\.[0-9]{1,2})?")


def _cost(value) -> Decimal:
    """A cost as the payments take an amount: a plain decimal string (or an integer) with at most
    two decimals, above zero and under 100,000,000 — never a float or an exponent ("1e30" was
    a 500 in ``quantize``)."""
    text = str(value).strip() if isinstance(value, (str, int)) and not isinstance(value, bool) else ""
    if not _COST.fullmatch(text):
        raise PoolError("invalid_input", f"cost 应为大于 0、最多两位小数的金额，如 \"120.50\"，收到 {str(value)[:30]!r}")
    cost = Decimal(text).quantize(Decimal("0.01"))
    if cost <= 0:
        raise PoolError("invalid_input", "cost 应为大于 0、最多两位小数的金额")
    return cost


def _same(s: MedicalSettlement, network_id: int, id_number: str, cost: Decimal, purpose: str) -> MedicalSettlement:
    """The first settlement of a request id, when asked again with the same content."""
    if (s.network_id, s.member.id_number, s.cost, s.purpose) != (network_id, id_number, cost, purpose):
        raise PoolError("idempotency_conflict", f"结算请求号 {s.request_id} 已用于另一笔结算")
    return s


def settle(*, network, member_id_number: str, request_id: str, cost, purpose: str = "medical",
           actor) -> MedicalSettlement:
    cost = _cost(cost)
    member_id_number = _number(member_id_number)
    request_id = str(request_id or "").strip()
    if not request_id or len(request_id) > 64:
        raise PoolError("invalid_input", "结算请求号不能为空，且不超过 64 个字符")
    if purpose not in PURPOSES:
        raise PoolError("invalid_input", f"用途应为 {'、'.join(PURPOSES)}")
    with transaction.atomic(), audit_context(actor, action="pool_medical_settle"):
        network = _lock_network(network)
        member = (Participation.objects.filter(network=network, id_number=member_id_number,
                                               role=Participation.Role.MEMBER, left_at__isnull=True).first())
        done = MedicalSettlement.objects.select_related("member").filter(request_id=request_id).first()
        if done is not None:  # also after the member has left: the first answer
            return _same(done, network.pk, member_id_number, cost, purpose)
        if member is None:
            raise PoolError("not_a_member", "该人员不是本共济网的共济成员")
        if purpose == "medical" and not network.medical_mode:
            raise PoolError("mode_not_chosen", "组建人尚未选择共济支付，共济成员不能使用共济资金支付医疗费用")
        if purpose == "commercial" and not network.premium_mode:
            raise PoolError("mode_not_chosen", "组建人尚未选择共济缴费，不能用共济资金购买商业健康保险")
        # lock the accounts in primary-key order: the member's own (if any) and the organizer's
        own_account = EmployeeAccount.objects.filter(id_number=member.id_number).first()
        ids = sorted({network.account_id} | ({own_account.pk} if own_account else set()))
        locked = {a.pk: a for a in EmployeeAccount.objects.select_for_update().filter(pk__in=ids).order_by("pk")}
        pool = locked[network.account_id]
        own = locked.get(own_account.pk) if own_account else None
        own_available = own.historical_balance if own and own.status == AccountStatus.NORMAL else ZERO
        pool_available = pool.historical_balance if pool.status == AccountStatus.NORMAL else ZERO
        from_own, from_pool, unpaid = split_cost(cost, own_available, pool_available)
        who = _actor_text(actor)
        try:
            with transaction.atomic():
                s = MedicalSettlement.objects.create(network=network, member=member, request_id=request_id,
                                                     purpose=purpose, cost=cost, from_own=from_own,
                                                     from_pool=from_pool, unpaid=unpaid,
                                                     excluded_from_other_schemes=True)
        except IntegrityError:
            raise PoolError("idempotency_conflict", f"结算请求号 {request_id} 正在或已经结算") from None
        note = f"共济支付结算 {request_id}"
        if from_own:
            post(own, [(Bucket.HISTORICAL, Kind.OWN_MEDICAL, -from_own, note)], actor=who)
        if from_pool:
            post(pool, [(Bucket.HISTORICAL, Kind.POOL_MEDICAL, -from_pool, f"{note}（{member.name}）")], actor=who)
        return s
