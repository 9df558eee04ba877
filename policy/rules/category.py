"""Which contribution category a person falls in (POLICY.md section 3)."""

from __future__ import annotations

from .errors import QuoteError, not_in_source
from .types import CategorySpec, Person, PolicySpec


def find_category(spec: PolicySpec, person: Person) -> CategorySpec:
    """Student status decides before birth date; then the birth-date ranges.

    A category tied to a student status only takes people of that status.  A
    category without one takes people by birth date (both ends inclusive, an
    open end when the source gives none).  When nobody matches and some
    category's range is not in the source, the answer needs that range.
    """
    student = person.student
    if student is not None:
        for cat in spec.categories:
            if cat.student == student:
                return cat
    birth = person.birth_date
    unknown: list[CategorySpec] = []
    for cat in spec.categories:
        if cat.student is not None:
            continue
        if not cat.birth_range_in_source:
            unknown.append(cat)
            continue
        if cat.born_from is not None and birth < cat.born_from:
            continue
        if cat.born_to is not None and birth > cat.born_to:
            continue
        return cat
    if unknown:
        # A person born in the benefit year is a newborn (POLICY.md §2) and an infant by any
        # reading of 婴幼儿, even where the source gives no range for that category (Shanghai).
        if birth.year == spec.year:
            for cat in unknown:
                if cat.code == "infant":
                    return cat
        names = "、".join(f"“{c.name}”" for c in unknown)
        codes = ", ".join(c.code for c in unknown)
        raise not_in_source(spec, f"{names}的出生日期区间（无法确定类别）",
                            f"birth-date range of category {codes}")
    raise QuoteError(
        "not_eligible",
        f"{spec.region_name} {spec.year} 年度没有适用于出生日期 {birth.isoformat()} 的参保类别",
    )


def describe(cat: CategorySpec) -> str:
    if cat.student is not None:
        return f"按学生身份归入“{cat.name}”"
    if not cat.birth_range_in_source:
        return f"归入“{cat.name}”"
    if cat.born_from is None and cat.born_to is None:
        return f"归入“{cat.name}”（全体居民同一标准）"
    lo = cat.born_from.isoformat() if cat.born_from else "不限"
    hi = cat.born_to.isoformat() if cat.born_to else "不限"
    return f"出生日期在 {lo} 至 {hi} 之间，归入“{cat.name}”"
