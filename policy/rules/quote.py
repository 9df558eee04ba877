"""The contribution quote: POLICY.md sections 2-4 over a PolicySpec.

Checks run in the precedence of INTERFACES.md section 2 (invalid_input and
policy_missing are decided before this function is called): not_eligible,
payment_day_not_allowed, window_not_open, window_closed, value_not_in_source.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from .assistance import best_assistance
from .category import describe as describe_category
from .category import find_category
from .continuity import cap_adjustment, cap_detail, continuity, continuity_waiting_months
from .dates import add_months
from .errors import QuoteError, not_in_source
from .types import (
    CHARGES,
    HISTORY_VALUES,
    IDENTITIES,
    PERIOD_KINDS,
    Assistance,
    PeriodSpec,
    PolicySpec,
    QuoteRequest,
    QuoteResult,
    SpecialGroupSpec,
)

ZERO = Decimal("0.00")
ONE_DAY = timedelta(days=1)


def quote(spec: PolicySpec, req: QuoteRequest, explain: bool = False) -> QuoteResult:
    """Amount due, assistance, benefit start and waiting for one request."""
    steps: list[str] | None = [] if explain else None
    person = req.person
    paid = req.paid_on
    birth = person.birth_date
    if birth > paid:
        raise QuoteError("invalid_input",
                         f"出生日期 {birth.isoformat()} 晚于缴费（登记）日期 {paid.isoformat()}")
    if steps is not None:
        steps.append(f"适用政策：{spec.region_name} {spec.year} 年度（待遇期 "
                     f"{spec.year_start.isoformat()} 至 {spec.year_end.isoformat()}）")

    _check_eligibility(spec, req, steps)

    newborn_group = spec.groups_by_code.get("newborn") if birth.year == spec.year else None
    if newborn_group is not None and newborn_group.free_in_birth_year:
        return _free_newborn(spec, req, newborn_group, steps)

    _check_payment_day(spec, paid, steps)
    period = _find_period(spec, paid)
    groups = _special_groups(spec, req, newborn_group, steps)
    if period is None:
        if spec.first_opening is not None and paid < spec.first_opening:
            raise QuoteError("window_not_open",
                             f"{paid.isoformat()} 早于 {spec.region_name} {spec.year} 年度缴费期开始日 "
                             f"{spec.first_opening.isoformat()}")
        if paid > spec.year_end or not any(g.exempt_from_periods for g in groups):
            raise QuoteError("window_closed",
                             f"{paid.isoformat()} 不在 {spec.region_name} {spec.year} 年度任何缴费期内")
    elif steps is not None:
        steps.append(_describe_period(spec, period, paid))

    cont = continuity(spec, spec.year, birth.year, req.history, req.repaired_years)
    if steps is not None:
        steps.append(_describe_continuity(spec, req, cont))

    base = paid if paid > spec.year_start else spec.year_start
    outside_window = period is None or period.kind != "window"
    months, days = _normal_waiting(spec, period, cont, outside_window)
    charge = period.charge if period is not None else "personal"

    if groups and (outside_window or months or days):
        timing = "exempt"
        free_periods = any(g.exempt_from_periods for g in groups)
        free_waiting = [g for g in groups if g.exempt_from_waiting]
        if free_periods and outside_window:
            charge = "personal"
        if free_waiting:
            months = days = 0
            benefit_start = min(_group_start(g, paid, base, birth) for g in free_waiting)
        else:
            if period is None:  # freed from the periods only: no lateness waiting
                months, days = continuity_waiting_months(spec, cont, False), 0
            benefit_start, months, days = _apply_waiting(base, months, days)
        if steps is not None:
            names = "、".join(_group_name(g) for g in groups)
            steps.append(f"属于特殊群体（{names}）：不受缴费期限制/不设等待期，"
                         f"待遇自 {benefit_start.isoformat()} 起")
    else:
        timing = period.kind
        benefit_start, months, days = _apply_waiting(base, months, days)
        if steps is not None:
            steps.append(_describe_waiting(spec, cont, base, months, days, benefit_start))

    result = _amounts(spec, req, charge, steps)
    result.timing = timing
    result.benefit_start = benefit_start
    result.waiting_months = months
    result.waiting_days = days
    result.cap_adjustment = cap_adjustment(spec, cont, req.history, spec.year)
    result.cap = cap_detail(spec, cont, req.history, spec.year)
    if steps is not None:
        if benefit_start > spec.year_end:
            steps.append("注意：待遇开始日晚于待遇年度末，本年度不享受待遇")
        steps.append(_describe_cap(result.cap_adjustment, cont, result.cap))
        result.steps = steps
    return result


# --- steps of the quote -------------------------------------------------------------


def _check_eligibility(spec: PolicySpec, req: QuoteRequest, steps) -> None:
    person = req.person
    if person.employee_insured:
        raise QuoteError("not_eligible", "已参加职工基本医疗保险，不能参加城乡居民医保")
    if person.hukou != "local" and spec.nonlocal_requires_permit and not person.residence_permit:
        months = spec.nonlocal_infant_parent_months
        if (months is not None and person.parent_insured_locally
                and req.paid_on <= add_months(person.birth_date, months)):
            if steps is not None:
                steps.append(f"外地户籍无居住证：出生 {months} 个月内且父母一方在本地参保，可凭父母居住证参保")
            return
        raise QuoteError("not_eligible",
                         f"非本地户籍且无有效居住证，不能在{spec.region_name}参保")
    if steps is not None:
        steps.append("参保资格：本地户籍" if person.hukou == "local"
                     else "参保资格：外地户籍，持有效居住证，按本地同类人员标准")


def _check_payment_day(spec: PolicySpec, paid: date, steps) -> None:
    lo, hi = spec.payment_day_from, spec.payment_day_to
    if lo is None and hi is None:
        return
    if (lo is not None and paid.day < lo) or (hi is not None and paid.day > hi):
        raise QuoteError("payment_day_not_allowed",
                         f"{spec.region_name}仅在每月 {lo or 1} 日至 {hi or 31} 日办理缴费，"
                         f"{paid.isoformat()} 不可缴费")


def _find_period(spec: PolicySpec, paid: date) -> PeriodSpec | None:
    for period in spec.periods:
        if period.contains(paid, spec.year_end):
            return period
    return None


def _special_groups(spec: PolicySpec, req: QuoteRequest, newborn_group, steps) -> list:
    """The special groups (exempt from periods or waiting) this person is in."""
    groups: list[SpecialGroupSpec] = []
    if newborn_group is not None:
        groups.append(newborn_group)
    by_code = spec.groups_by_code
    if not by_code:
        return groups
    for ident in req.identities:
        group = by_code.get(ident.code)
        if group is not None and group not in groups:
            if ident.certified_on is None or ident.certified_on <= req.paid_on:
                groups.append(group)
    left = req.left_other_scheme_on
    leaver = by_code.get("left_other_scheme")
    if left is not None and leaver is not None:
        limit = add_months(left, leaver.within_months) if leaver.within_months is not None else None
        if left <= req.paid_on and (limit is None or req.paid_on <= limit):
            groups.append(leaver)
        elif steps is not None:
            steps.append(f"退出其他制度保障于 {left.isoformat()}，缴费已超过 "
                         f"{leaver.within_months} 个月，不适用补办参保政策")
    return groups


def _normal_waiting(spec: PolicySpec, period: PeriodSpec | None, cont, outside_window: bool):
    """(months, days) of waiting for a person not exempt."""
    p_months = p_days = 0
    if period is not None:
        if period.benefit_start == "payment_plus_months":
            p_months = period.offset
        elif period.benefit_start == "payment_plus_days":
            p_days = period.offset
    late_without_own_rule = outside_window and not (p_months or p_days)
    c_months = continuity_waiting_months(spec, cont, late_without_own_rule)
    return (p_months if p_months > c_months else c_months), p_days


def _apply_waiting(base: date, months: int, days: int) -> tuple[date, int, int]:
    """Benefit start after the longer of the two waitings, and the waiting that won."""
    if not days:
        return (add_months(base, months) if months else base), months, 0
    by_days = base + timedelta(days=days)
    if not months:
        return by_days, 0, days
    by_months = add_months(base, months)
    return (by_months, months, 0) if by_months >= by_days else (by_days, 0, days)


def _group_start(group: SpecialGroupSpec, paid: date, base: date, birth: date) -> date:
    if group.benefit_start == "next_day":
        nxt = paid + ONE_DAY
        return nxt if nxt > base else base
    if group.benefit_start == "birth_date":
        return birth
    return base


def _free_newborn(spec: PolicySpec, req: QuoteRequest, group, steps) -> QuoteResult:
    """A newborn not charged in the birth year: covered from birth once registered."""
    if req.paid_on > spec.year_end:
        raise QuoteError("window_closed",
                         f"{req.paid_on.isoformat()} 已过 {spec.year} 待遇年度，新生儿出生当年登记已截止")
    cat = find_category(spec, req.person)
    start = _group_start(group, req.paid_on, max(req.paid_on, spec.year_start), req.person.birth_date)
    if steps is not None:
        steps.append(f"新生儿出生当年不缴费，办理参保登记后自 {start.isoformat()} 起享受待遇，不设等待期")
        steps.append(f"类别：{describe_category(cat)}")
    cont = continuity(spec, spec.year, req.person.birth_date.year, req.history, req.repaired_years)
    return QuoteResult(
        region=req.region, year=spec.year, category=cat.code,
        personal_standard=cat.personal_standard, fiscal_subsidy=cat.fiscal_subsidy,
        assistance=None, amount_due=ZERO, timing="newborn", benefit_start=start,
        benefit_end=spec.year_end, waiting_months=0, waiting_days=0,
        cap_adjustment=cap_adjustment(spec, cont, req.history, spec.year), steps=steps,
        cap=cap_detail(spec, cont, req.history, spec.year),
    )


def _amounts(spec: PolicySpec, req: QuoteRequest, charge: str, steps) -> QuoteResult:
    cat = find_category(spec, req.person)
    personal = cat.personal_standard
    if steps is not None:
        steps.append(f"类别：{describe_category(cat)}")
    if personal is None:
        raise not_in_source(spec, f"“{cat.name}”个人缴费标准", f"personal standard of {cat.code}")
    fiscal = cat.fiscal_subsidy
    due = personal
    if charge == "personal_plus_fiscal":
        if fiscal is None:
            raise not_in_source(spec, f"“{cat.name}”补缴时须一并缴纳的财政补助标准",
                                f"fiscal subsidy of {cat.code}, charged with late payment")
    best = best_assistance(spec, req.identities, req.person, req.paid_on, personal, steps)
    assistance = None
    if best is not None:
        assistance = Assistance(identity=best[0], amount=best[1])
        due = personal - best[1]
    if charge == "personal_plus_fiscal":
        due = due + fiscal
    if steps is not None:
        steps.append(f"个人缴费标准 {personal} 元；财政补助 "
                     f"{fiscal if fiscal is not None else '来源文件未给出（未设定）'}"
                     + (" 元" if fiscal is not None else ""))
        if assistance is not None:
            steps.append(f"就高资助：{IDENTITIES[assistance.identity]} {assistance.amount} 元（只享受一种资助）")
        if assistance is None and charge == "personal":
            steps.append(f"应缴金额 = 个人缴费标准 {due} 元")
        else:
            formula = f"{personal}" + (f" − {assistance.amount}" if assistance else "") \
                + (f" + {fiscal}（{CHARGES[charge]}）" if charge == "personal_plus_fiscal" else "")
            steps.append(f"应缴金额 = {formula} = {due} 元")
    return QuoteResult(
        region=req.region, year=spec.year, category=cat.code, personal_standard=personal,
        fiscal_subsidy=fiscal, assistance=assistance, amount_due=due, timing="",
        benefit_start=spec.year_start, benefit_end=spec.year_end, waiting_months=0,
        waiting_days=0, cap_adjustment=None,
    )


# --- explanations (only built when asked for) ----------------------------------------


def _describe_period(spec: PolicySpec, period: PeriodSpec, paid: date) -> str:
    lo = period.starts_on.isoformat() if period.starts_on else "（来源未给出开始日）"
    hi = period.ends_on.isoformat() if period.ends_on else spec.year_end.isoformat()
    rule = {
        "year_start": "待遇自待遇年度首日起",
        "payment_date": "待遇自缴费之日起",
        "payment_plus_days": f"待遇自缴费之日起 {period.offset} 天后",
        "payment_plus_months": f"等待期 {period.offset} 个月",
    }[period.benefit_start]
    return (f"缴费日期 {paid.isoformat()} 属于“{PERIOD_KINDS[period.kind]}”（{lo} 至 {hi}）："
            f"{rule}；缴纳{CHARGES[period.charge]}")


def _describe_continuity(spec: PolicySpec, req: QuoteRequest, cont) -> str:
    first = max(spec.continuity_from_year, req.person.birth_date.year)
    if first >= spec.year:
        return f"连续参保自 {spec.continuity_from_year} 年度起计算，{spec.year} 年度之前无需计算的年度"
    parts = [f"{y} {HISTORY_VALUES[req.history.get(y, 'none')]}" for y in range(first, spec.year)]
    text = "参保记录：" + "，".join(parts)
    if cont.continuous:
        return text + f"；连续参保（此前连续 {cont.covered_run} 年）"
    repaired = len(cont.gap_years) - cont.unrepaired
    return (text + f"；断保 {len(cont.gap_years)} 年（{'、'.join(map(str, cont.gap_years))}），"
            f"已补缴 {repaired} 年")


def _describe_waiting(spec: PolicySpec, cont, base: date, months: int, days: int,
                      start: date) -> str:
    if not months and not days:
        return f"在集中缴费期内缴费且连续参保，不设等待期，待遇自 {start.isoformat()} 起"
    if days:
        return f"待遇自 {base.isoformat()} 起 {days} 天后，即 {start.isoformat()} 起"
    how = f"等待期 {months} 个月"
    if not cont.continuous:
        how = f"未连续参保，固定等待期 {spec.fixed_waiting_months} 个月"
        if spec.variable_waiting:
            repaired = len(cont.gap_years) - cont.unrepaired
            how += (f" + 变动等待期 {cont.unrepaired} 个月（断保 {len(cont.gap_years)} 年，"
                    f"补缴 {repaired} 年）")
            if months > spec.fixed_waiting_months + cont.unrepaired:
                how += f"，连续断保 {len(cont.gap_years)} 年，合计不少于 {months} 个月"
        how += f" = {months} 个月"
    else:
        how = f"未在集中缴费期内缴费，等待期 {months} 个月"
    return f"{how}，自 {base.isoformat()} 起算，待遇自 {start.isoformat()} 起"


def _describe_cap(adjustment, cont, detail=None) -> str:
    if adjustment is None:
        if detail is not None and detail.unset:
            return ("大病保险最高支付限额调整：" + "、".join(detail.unset) + "，来源文件未给出金额（未设定）")
        if detail is not None:
            return "大病保险最高支付限额调整：本年度无需调整，但本地区部分金额来源文件未给出（未设定）"
        return "大病保险最高支付限额调整：来源文件未给出金额（未设定）"
    if adjustment < 0:
        return f"断保后再参保，大病保险最高支付限额降低 {-adjustment} 元"
    return f"大病保险最高支付限额调整 {adjustment} 元（连续参保 {cont.covered_run + 1} 年）"


def _group_name(group: SpecialGroupSpec) -> str:
    from .types import SPECIAL_GROUP_CODES

    return SPECIAL_GROUP_CODES.get(group.code) or IDENTITIES.get(group.code, group.code)
