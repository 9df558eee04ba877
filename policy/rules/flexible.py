"""Flexible-employment medical insurance (灵活就业人员医疗保险): a second scheme beside the
resident scheme, run by the same bureau (Xianyang 002, "2025灵活就业人员医疗保险").

Pure: plain values in, plain values out.  The figures (each part of the contribution,
the monthly basic, the pay-by date, the 3 months of the interruption rule, the waiting,
the 5 days of the tax-paid certificate) are policy data (``FlexibleSchemeSpec``, from
``policies/610400-2025.yaml``); a figure left unset fails with ``value_not_in_source``
where an answer needs it.  Who may pay and where the others are sent is the source's
wording (002 01 缴费人员范围), kept here as refusal reasons.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from .dates import add_months
from .errors import QuoteError

FLEX_STATUSES = {"in_service": "在职人员", "retired": "退休人员"}
FLEX_COMPONENTS = {"basic": "基本医疗保险", "large_medical": "大额医疗补助", "critical_illness": "大病保险"}
# Where a person's files (档案) are held (002 01 items 1, 5, 6).
FILE_HOLDERS = {
    "reemployment_centre": "咸阳市再就业服务中心",
    "other_agency": "市本级其他人事代理机构",
    "county": "各县（市）区（参保登记地）",
}
FLEX_TIMINGS = {
    "on_time": "按期缴费",
    "interrupted": "中断 3 个月内恢复缴费（补足中断期间基本医疗保险费）",
    "first_enrolment": "中断超过 3 个月，按初次参保执行等待期",
}

# Refusals: reason code -> where the person is sent (002 01 缴费人员范围).
REFERRALS = {
    "special_group": "特殊群体、困难军转干部、对越作战、涉核退休人员，请到咸阳市政务服务中心医保窗口咨询办理",
    "other_agency": "市本级档案托管在其他人事代理机构的人员，请按原渠道缴纳",
    "county": "各县（市）区灵活就业参保人员，请在参保登记地办税服务厅和医保经办中心咨询办理",
    "not_paid_previous_year": "未缴纳上一年度医疗保险费（中断补缴或一次性补费），请前往参保地医疗保险经办中心办理补缴业务",
    "past_retirement_age": "已达到法定退休年龄，请携带退休审批表到咸阳市政务服务中心医保窗口办理在职转退休后再缴费",
}

ZERO = Decimal("0.00")


@dataclass(frozen=True, slots=True)
class FlexibleRateSpec:
    status: str  # in_service / retired
    component: str  # basic / large_medical / critical_illness
    annual_amount: Decimal | None  # None = not in source
    monthly_amount: Decimal | None = None  # the basic part's monthly figure (288)


@dataclass(frozen=True, slots=True)
class FlexibleSchemeSpec:
    rates: tuple[FlexibleRateSpec, ...]
    pay_by: date | None = None  # 注意事项 1: "于12月31日前完成缴费"
    makeup_within_months: int | None = None  # 注意事项 2: "中断3个月内 … 补足"
    waiting_months: int | None = None  # 注意事项 2: "执行3个月医疗保险待遇等待期"
    certificate_after_days: int | None = None  # 注意事项 4: "缴费5日后"

    def rates_for(self, status: str) -> tuple[FlexibleRateSpec, ...]:
        return tuple(r for r in self.rates if r.status == status)


@dataclass(slots=True)
class FlexibleRequest:
    region: str
    year: int
    paid_on: date
    status: str  # in_service / retired
    file_held_at: str  # a FILE_HOLDERS code
    paid_previous_year: bool
    special_group: bool = False
    retirement_age_reached_on: date | None = None


@dataclass(slots=True)
class FlexiblePart:
    component: str
    amount: Decimal


@dataclass(slots=True)
class FlexibleResult:
    region: str
    year: int
    status: str
    parts: list[FlexiblePart]
    amount_due: Decimal
    timing: str
    interruption_months: int
    makeup_basic: Decimal
    benefit_start: date
    benefit_end: date
    waiting_months: int
    certificate_from: date | None
    retired_from: date | None
    steps: list[str] | None = field(default=None)


class FlexibleRefusal(QuoteError):
    """``not_eligible`` with the machine-readable ``reason`` (a REFERRALS key)."""

    def __init__(self, reason: str):
        super().__init__("not_eligible", REFERRALS[reason])
        self.reason = reason


def _unset(region_name: str, year: int, what: str, figure: str) -> QuoteError:
    return QuoteError("value_not_in_source",
                      f"{region_name} {year} 年度灵活就业人员医疗保险{what}，来源文件未给出", figure=figure)


def check_eligible(req: FlexibleRequest) -> None:
    """Who may pay through the tax channels (002 01): files held at the city's
    re-employment centre and the previous year paid; everybody else is referred."""
    if req.file_held_at == "other_agency":
        raise FlexibleRefusal("other_agency")
    if req.file_held_at == "county":
        raise FlexibleRefusal("county")
    if req.special_group:
        raise FlexibleRefusal("special_group")
    if not req.paid_previous_year:
        raise FlexibleRefusal("not_paid_previous_year")


def interruption_months(pay_by: date, paid_on: date) -> int:
    """Calendar months of interruption after the pay-by date: 0 when paid by it;
    2024-12-31 → 2025-01-xx is 1, 2025-03-31 is 3, 2025-04-01 is 4."""
    if paid_on <= pay_by:
        return 0
    return (paid_on.year * 12 + paid_on.month) - (pay_by.year * 12 + pay_by.month)


def retired_from(reached_on: date) -> date:
    """In-service → retired from the month after reaching the legal retirement age
    (002 01 item 3: "在到龄后次月"), having paid the full year."""
    first = reached_on.replace(day=1)
    return add_months(first, 1)


def certificate_from(paid_on: date, days: int) -> date:
    """The tax-paid certificate (《社会保险费缴费证明》) may be printed from ``days``
    days after payment (002 注意事项 4: "缴费5日后")."""
    return paid_on + timedelta(days=days)


def flexible_quote(scheme: FlexibleSchemeSpec, req: FlexibleRequest, *, region_name: str,
                   explain: bool = False) -> FlexibleResult:
    """Amount due (its parts), timing, benefit start and the dates that follow from a payment."""
    steps: list[str] | None = [] if explain else None
    year_start, year_end = date(req.year, 1, 1), date(req.year, 12, 31)
    check_eligible(req)
    if req.status == "retired" and req.retirement_age_reached_on is not None:
        raise QuoteError("invalid_input", "退休人员无需提供到达法定退休年龄日期")
    reached = req.retirement_age_reached_on
    if reached is not None and reached < year_start:
        raise FlexibleRefusal("past_retirement_age")
    if steps is not None:
        steps.append(f"适用：{region_name} {req.year} 年度灵活就业人员医疗保险（{FLEX_STATUSES[req.status]}），"
                     f"档案托管在{FILE_HOLDERS[req.file_held_at]}且已缴纳 {req.year - 1} 年度医疗保险费")

    if scheme.pay_by is None:
        raise _unset(region_name, req.year, "缴费截止日期", "pay-by date")
    if req.paid_on > year_end:
        raise QuoteError("window_closed",
                         f"{req.paid_on.isoformat()} 已过 {req.year} 年度，请前往参保地医疗保险经办中心办理补缴业务")

    parts, total = _parts(scheme, req, region_name)
    months = interruption_months(scheme.pay_by, req.paid_on)
    makeup = ZERO
    waiting = 0
    if months == 0:
        timing = "on_time"
        start = req.paid_on if req.paid_on > year_start else year_start
    else:
        limit = scheme.makeup_within_months
        if limit is None:
            raise _unset(region_name, req.year, "中断后可补足的月数", "interruption make-up months")
        if months <= limit:
            timing = "interrupted"
            makeup = _makeup_basic(scheme, req, months, region_name)
            start = req.paid_on
        else:
            timing = "first_enrolment"
            if scheme.waiting_months is None:
                raise _unset(region_name, req.year, "待遇等待期", "waiting months")
            waiting = scheme.waiting_months
            start = add_months(req.paid_on, waiting)

    cert = None
    if scheme.certificate_after_days is not None:
        cert = certificate_from(req.paid_on, scheme.certificate_after_days)
    retire = None
    if reached is not None and reached <= year_end:
        retire = retired_from(reached)

    if steps is not None:
        steps += _describe(scheme, req, parts, total, timing, months, makeup, start, waiting, cert, retire)
    return FlexibleResult(
        region=req.region, year=req.year, status=req.status, parts=parts, amount_due=total,
        timing=timing, interruption_months=months, makeup_basic=makeup, benefit_start=start,
        benefit_end=year_end, waiting_months=waiting, certificate_from=cert, retired_from=retire,
        steps=steps)


def _parts(scheme: FlexibleSchemeSpec, req: FlexibleRequest, region_name: str):
    rates = scheme.rates_for(req.status)
    if not rates:
        raise _unset(region_name, req.year, f"{FLEX_STATUSES[req.status]}缴费标准",
                     f"rates for {req.status}")
    parts: list[FlexiblePart] = []
    total = ZERO
    for rate in sorted(rates, key=lambda r: list(FLEX_COMPONENTS).index(r.component)):
        if rate.annual_amount is None:
            raise _unset(region_name, req.year,
                         f"{FLEX_STATUSES[req.status]}{FLEX_COMPONENTS[rate.component]}缴费标准",
                         f"{rate.component} for {req.status}")
        if rate.annual_amount == ZERO and rate.component == "basic":
            continue  # retired: "退休人员不缴纳基本医疗保险费" — no basic part at all
        parts.append(FlexiblePart(rate.component, rate.annual_amount))
        total += rate.annual_amount
    return parts, total


def _makeup_basic(scheme: FlexibleSchemeSpec, req: FlexibleRequest, months: int,
                  region_name: str) -> Decimal:
    """The missed basic contributions of the interruption (included in the year's amount)."""
    basic = [r for r in scheme.rates_for(req.status) if r.component == "basic"]
    if not basic or basic[0].annual_amount in (None, ZERO):
        return ZERO
    monthly = basic[0].monthly_amount
    if monthly is None:
        raise _unset(region_name, req.year, "基本医疗保险月缴费标准", "monthly basic")
    return monthly * months


def _describe(scheme, req, parts, total, timing, months, makeup, start, waiting, cert, retire) -> list[str]:
    out = ["缴费构成：" + " + ".join(f"{FLEX_COMPONENTS[p.component]} {p.amount} 元" for p in parts)
           + f" = {total} 元/年"]
    if timing == "on_time":
        out.append(f"在 {scheme.pay_by.isoformat()} 前缴费，待遇自 {start.isoformat()} 起")
    elif timing == "interrupted":
        out.append(f"中断 {months} 个月（不超过 {scheme.makeup_within_months} 个月），补足中断期间基本医疗保险费 "
                   f"{makeup} 元（已含在年缴费额内），自缴费之日 {start.isoformat()} 起享受待遇")
    else:
        out.append(f"超过缴费期限 {scheme.makeup_within_months} 个月未缴费（中断 {months} 个月），按初次参保执行 "
                   f"{waiting} 个月等待期，待遇自 {start.isoformat()} 起，等待期内医疗费用不予报销")
    if cert is not None:
        out.append(f"《社会保险费缴费证明》自 {cert.isoformat()} 起可打印（缴费 {scheme.certificate_after_days} 日后）")
    if retire is not None:
        out.append(f"{req.retirement_age_reached_on.isoformat()} 达到法定退休年龄，完成当年全年缴费后，"
                   f"自 {retire.isoformat()} 起办理在职转退休")
    return out
