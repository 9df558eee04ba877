"""Assistance (资助参保): the single highest subsidy a person is entitled to."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from .dates import age_on
from .errors import not_in_source
from .types import IDENTITIES, AssistanceTierSpec, Identity, Person, PolicySpec

CENT = Decimal("0.01")
HUNDRED = Decimal(100)


def money(value: Decimal) -> Decimal:
    """The one rounding of the system: yuan to 2 places, half up."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def tier_applies(spec: PolicySpec, tier: AssistanceTierSpec, ident: Identity,
                 person: Person, paid_on) -> str | None:
    """None when the tier applies, else the reason (in Chinese) why not."""
    if tier.local_hukou_only and person.hukou != "local":
        return "仅限本地户籍"
    if ident.certified_on is not None and ident.certified_on > paid_on:
        return f"认定日期 {ident.certified_on.isoformat()} 晚于缴费日期"
    if tier.certified_by is not None:
        if ident.certified_on is None or ident.certified_on > tier.certified_by:
            return f"须在 {tier.certified_by.isoformat()} 前取得认定"
    late = assessment_late(tier, ident)
    if late is not None:
        return late
    if tier.age_ranges:
        age = age_on(person.birth_date, spec.age_reference_date)
        for lo, hi in tier.age_ranges:
            if (lo is None or age >= lo) and (hi is None or age <= hi):
                break
        else:
            return f"年龄 {age} 周岁不在资助年龄范围内"
    return None


def assessment_late(tier: AssistanceTierSpec, ident: Identity) -> str | None:
    """003 §二(五): a certificate newly issued in the year of ``assessed_by`` must have been
    assessed (残疾评定) on or before it.  None when fine or not checkable: an assessment
    date that is not known is not checked here (see ``assessment_unchecked``)."""
    by = tier.assessed_by
    if by is None or ident.certified_on is None or ident.certified_on.year != by.year:
        return None
    if ident.assessed_on is not None and ident.assessed_on > by:
        return (f"{by.year} 年新办证的须在 {by.isoformat()} 前完成残疾评定，"
                f"评定日期为 {ident.assessed_on.isoformat()}")
    return None


def assessment_unchecked(tier: AssistanceTierSpec, ident: Identity) -> bool:
    """A new certificate of the deadline's year whose assessment date is not known."""
    by = tier.assessed_by
    return (by is not None and ident.certified_on is not None and ident.certified_on.year == by.year
            and ident.assessed_on is None)


def tier_amount(spec: PolicySpec, tier: AssistanceTierSpec, personal: Decimal) -> Decimal | None:
    """The tier's assistance for a person of that standard; None when its figure is unset."""
    if tier.kind == "full":
        return personal
    if tier.kind == "percentage":
        if tier.percentage is None:
            return None
        return money(personal * tier.percentage / HUNDRED)
    if tier.amount is None:
        return None
    return tier.amount if tier.amount < personal else personal


def best_assistance(spec: PolicySpec, identities, person: Person, paid_on,
                    personal: Decimal, steps: list | None):
    """(identity, amount) of the highest applicable tier, or None.

    Highest wins, one only (就高不就低).  A tier whose figure is unset can only
    be passed over when a known tier already pays the whole personal
    contribution; otherwise the answer needs that figure.
    """
    if not identities:
        return None
    held = {}
    for ident in identities:
        held.setdefault(ident.code, []).append(ident)
    if steps is not None:
        for code in held:
            if code not in spec.tiers_by_identity:
                steps.append(f"身份“{IDENTITIES.get(code, code)}”在本地区本年度无资助标准")
    best = None
    unknown = None
    # Policy order decides between equal amounts, so the answer never depends
    # on the order in which a request lists identities.
    for tier in spec.assistance:
        for ident in held.get(tier.identity, ()):
            reason = tier_applies(spec, tier, ident, person, paid_on)
            if reason is None:
                break
        else:
            if tier.identity in held and steps is not None:
                steps.append(f"身份“{IDENTITIES[tier.identity]}”不予资助：{reason}")
            continue
        amount = tier_amount(spec, tier, personal)
        if amount is None:
            unknown = unknown or tier
            continue
        if steps is not None:
            steps.append(f"身份“{IDENTITIES[tier.identity]}”可资助 {amount} 元")
            if assessment_unchecked(tier, ident):
                steps.append(f"注意：{tier.assessed_by.year} 年新办证的须在 {tier.assessed_by.isoformat()} "
                             "前完成残疾评定，未提供评定日期，未核对")
        if best is None or amount > best[1]:
            best = (tier.identity, amount)
    if unknown is not None and (best is None or best[1] < personal):
        raise not_in_source(spec, f"“{IDENTITIES[unknown.identity]}”资助标准",
                            f"assistance amount for {unknown.identity}")
    return best
