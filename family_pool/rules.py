"""The family pool's rules (POLICY.md §6): the pool fields of a region's published policy
year as a frozen value, and pure decisions over plain values — organizer eligibility, the
premium cancellation deadline, the split of a medical cost. No clock: callers pass ``now``.

Which policy year a network lives under on a given day: the newest *published* year of the
region not later than next year (``today.year + 1``) — in December the coming benefit year's
rules (its 12-20 cut-off) are the ones that count; a region with an older year only keeps
using it (``rules_for``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.utils import timezone

from policy.models import PolicyYear, PolicyYearStatus, Region
from policy.rules.types import RELATIONS

ZERO = Decimal("0.00")
# Members whose registration channel sets the premium cancellation deadline ("孩子", 004 Q15):
# the organizer's children and grandchildren.
CHILD_RELATIONS = frozenset({"child", "grandchild", "maternal_grandchild"})


class PoolRulesMissing(Exception):
    code = "policy_missing"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class PoolRules:
    region_code: str  # the policy region (孝义 141181 → 吕梁 141100)
    region_name: str
    year: int
    relations: tuple[str, ...]
    organizer_scope: str  # "region" | "province"
    medical_payment: bool
    premium_payment: bool
    premium_cutoff: datetime | None
    batch_starts_on: date | None
    results_on: date | None
    certificate_working_days: int | None
    school_cancel_deadline: datetime | None
    community_cancel_same_day: bool

    @property
    def province_prefix(self) -> str:
        return province_prefix(self.region_code)

    def relation_allowed(self, relation: str) -> bool:
        return relation in self.relations

    def relations_text(self) -> str:
        return "、".join(RELATIONS.get(r, r) for r in self.relations)


def province_prefix(code: str) -> str:
    """The province of a GB/T 2260 code: its first two digits (浙江 33, 山西 14)."""
    return (code or "")[:2]


def _from_row(py: PolicyYear) -> PoolRules:
    return PoolRules(
        region_code=py.region_id, region_name=py.region.name, year=py.year,
        relations=tuple(py.pool_relations or ()), organizer_scope=py.pool_organizer_scope or "region",
        medical_payment=py.pool_medical_payment, premium_payment=py.pool_premium_payment,
        premium_cutoff=py.pool_premium_cutoff, batch_starts_on=py.pool_batch_starts_on,
        results_on=py.pool_results_on, certificate_working_days=py.pool_certificate_working_days,
        school_cancel_deadline=py.pool_school_cancel_deadline,
        community_cancel_same_day=py.pool_community_cancel_same_day)


def _policy_region(region_code: str) -> Region:
    from policy.selectors import policy_region

    region = policy_region(region_code)
    if region is None:
        raise PoolRulesMissing(f"未知地区 {region_code}，没有该地区的家庭共济政策")
    return region


def pool_rules(region_code: str, year: int) -> PoolRules:
    """The pool fields of the region's published policy year (a county: its city's)."""
    region = _policy_region(region_code)
    py = (PolicyYear.objects.select_related("region")
          .filter(region=region, year=year, status=PolicyYearStatus.PUBLISHED).first())
    if py is None:
        raise PoolRulesMissing(f"{region.name} {year} 年度没有已发布的政策，无法办理家庭共济")
    return _from_row(py)


def rules_for(region_code: str, today: date) -> PoolRules:
    """The rules a network follows on ``today`` (see the module's note)."""
    region = _policy_region(region_code)
    py = (PolicyYear.objects.select_related("region")
          .filter(region=region, year__lte=today.year + 1, status=PolicyYearStatus.PUBLISHED)
          .order_by("-year").first())
    if py is None:
        raise PoolRulesMissing(f"{region.name} 没有已发布的政策年度，无法办理家庭共济")
    return _from_row(py)


# --- pure decisions ---------------------------------------------------------------------

@dataclass(frozen=True)
class OrganizerFacts:
    has_account: bool
    status: str  # normal / frozen
    historical_balance: Decimal
    insured_region: str  # any code in the country


def insured_in_scope(insured_region: str, rules: PoolRules, members: list[str] | tuple[str, ...]) -> bool:
    """Insured in the region (its policy members: 吕梁 also 孝义), or anywhere in its province
    where the policy says so (宁波: 浙江 33…; 吕梁: 山西 14…)."""
    if insured_region in members:
        return True
    return rules.organizer_scope == "province" and province_prefix(insured_region) == rules.province_prefix


def organizer_refusal(facts: OrganizerFacts, rules: PoolRules, members) -> str | None:
    """Why this person may not organise a network in the region (Chinese), or None."""
    if not facts.has_account:
        return "未找到该人员的职工医保个人账户，组建人须为职工医保参保人"
    if facts.status != "normal":
        return "职工医保个人账户已冻结，不能正常使用"
    if facts.historical_balance <= ZERO:
        return "职工医保个人账户历年结余资金为零，组建人历年账户须有结余"
    if not insured_in_scope(facts.insured_region, rules, members):
        where = "本省" if rules.organizer_scope == "province" else rules.region_name
        return f"职工医保参保地 {facts.insured_region} 不在{where}，组建人须为{where}职工医保参保人"
    return None


@dataclass(frozen=True)
class ChildRegistration:
    via: str  # school / community / online / ""
    on: date | None


def end_of_day(day: date) -> datetime:
    """The first moment after ``day`` in the current time zone (Asia/Shanghai)."""
    return timezone.make_aware(datetime.combine(day + timedelta(days=1), time.min))


def premium_cancel_deadline(rules: PoolRules, children: list[ChildRegistration]) -> datetime | None:
    """The moment from which turning 共济缴费 off is refused, or None (no deadline known).

    A school-registered child: the region's school deadline (上海 12-20 17:00); a
    community-registered child where the region says so: the end of the registration day;
    several such children: the earliest. Otherwise the region's 共济缴费 cut-off.

    A child registered at a bureau's counter (``counter``, 经办窗口) is held to the community
    rule, the end of the registration day.  The source (004 Q: 如何取消共济缴费) names two
    routes — "通过学校集中申报参保的 … 12月20日17:00前", "通过街道（镇）社区事务受理服务中心申报
    参保的 … 申请当日" — and the community centre is itself a counter: the parent applies in
    person, the registration is made there and then, and the deadline is the day of that
    application, not the schools' collective deadline, which exists because a school hands
    its whole list in by 12-20.  A counter registration is the same kind of in-person
    application, and until issue 13 it was filed as community (社区/经办窗口), so the
    deadline it had is kept."""
    moments = []
    for child in children:
        if child.via == "school" and rules.school_cancel_deadline is not None:
            moments.append(rules.school_cancel_deadline)
        elif child.via in ("community", "counter") and rules.community_cancel_same_day and child.on is not None:
            moments.append(end_of_day(child.on))
    if moments:
        return min(moments)
    return rules.premium_cutoff


def cutoff_passed(deadline: datetime | None, now: datetime) -> bool:
    """"by 17:00" (17:00 前): at 17:00:00 it has passed."""
    return deadline is not None and now >= deadline


def split_cost(cost: Decimal, own_available: Decimal, pool_available: Decimal) -> tuple[Decimal, Decimal, Decimal]:
    """(from_own, from_pool, unpaid): own historical balance first, then the pool; never below
    zero. A resident member has no own balance (pass 0)."""
    own = min(cost, max(own_available, ZERO))
    pool = min(cost - own, max(pool_available, ZERO))
    return own, pool, cost - own - pool
