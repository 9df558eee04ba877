"""Plain values the rules work on: the policy (specs), a request and a result."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from .flexible import FlexibleSchemeSpec

# --- codes of INTERFACES.md section 1 --------------------------------------------------

CATEGORIES = {
    "adult": "成年居民",
    "infant": "婴幼儿",
    "minor": "其他未成年人",
    "student": "中小学生",
    "college": "大学生",
    "resident": "城乡居民",
}

STUDENT_STATUSES = {"primary_secondary": "中小学生", "college": "大学生"}

IDENTITIES = {
    "tekun": "特困人员",
    "orphan": "孤儿",
    "de_facto_orphan": "事实无人抚养儿童",
    "hiv_child": "艾滋病病毒感染儿童",
    "dibao": "低保对象",
    "dibao_edge": "低保边缘家庭成员",
    "low_income_member": "低收入家庭成员",
    "low_income_severe_disabled": "低收入家庭中重度残疾人",
    "monitored": "防止返贫监测对象",
    "returned_poverty": "返贫致贫人口",
    "poverty_alleviated": "脱贫人口",
    "medical_assistance": "医疗救助对象",
    "disabled_severe": "一、二级重度残疾人",
    "disabled_certified": "持第二代残疾人证人员",
    "entitled": "优抚对象",
    "restructured_soe": "市属改制企业职工",
}

# Other Chinese names seen in the sources and rosters, mapped to a code (compared after
# ``policy.rules.io.identity_code`` has normalised them: NFKC, no spaces, traditional
# characters as simplified, a trailing remark in brackets dropped).
IDENTITY_ALIASES = {
    "特困": "tekun",
    "特困对象": "tekun",
    "特困供养人员": "tekun",
    "特困供养对象": "tekun",
    "城乡特困供养对象": "tekun",
    "城乡特困人员": "tekun",
    "事实无人抚养": "de_facto_orphan",
    "艾滋病病毒感染": "hiv_child",
    "低保": "dibao",
    "低保户": "dibao",
    "低保人员": "dibao",
    "低保家庭成员": "dibao",
    "最低生活保障家庭成员": "dibao",
    "最低生活保障对象": "dibao",
    "城乡最低生活保障对象": "dibao",
    "城乡低保对象": "dibao",
    "困境儿童": "dibao",
    "低保边缘": "dibao_edge",
    "低保边缘对象": "dibao_edge",
    "低保边缘家庭": "dibao_edge",
    "最低生活保障边缘家庭成员": "dibao_edge",
    "低收入人口": "low_income_member",
    "低收入家庭": "low_income_member",
    "低收入家庭重度残疾人": "low_income_severe_disabled",
    "监测对象": "monitored",
    "返贫监测对象": "monitored",
    "防返贫监测对象": "monitored",
    "脱贫不稳定人口": "monitored",
    "脱贫不稳定户": "monitored",
    "边缘易致贫人口": "monitored",
    "边缘易致贫户": "monitored",
    "突发严重困难人口": "monitored",
    "突发严重困难户": "monitored",
    "返贫致贫": "returned_poverty",
    "返贫人口": "returned_poverty",
    "致贫人口": "returned_poverty",
    "脱贫户": "poverty_alleviated",
    "医疗救助": "medical_assistance",
    "重度残疾人": "disabled_severe",
    "一二级重度残疾人": "disabled_severe",
    "一级二级重度残疾人": "disabled_severe",
    "一、二级残疾人": "disabled_severe",
    "一二级残疾人": "disabled_severe",
    "重度残疾": "disabled_severe",
    "残疾人": "disabled_certified",
    "残疾人员": "disabled_certified",
    "持证残疾人": "disabled_certified",
    "二代残疾证": "disabled_certified",
    "持二代残疾证": "disabled_certified",
    "持第二代残疾人证": "disabled_certified",
    "持二代残疾证人员": "disabled_certified",
    "持二代残疾证的残疾人员": "disabled_certified",
    "持第二代残疾人证的残疾人员": "disabled_certified",
    "重点优抚对象": "entitled",
    "优抚": "entitled",
    "享受国家定期抚恤补助的优抚对象": "entitled",
    "改制企业职工": "restructured_soe",
    "市属改制企业职工": "restructured_soe",
    "市属未改制企业退休职工": "restructured_soe",
}

# Special groups that are not assistance identities.
SPECIAL_GROUP_CODES = {
    "newborn": "新生儿",
    "left_other_scheme": "退出其他制度保障人员（职工医保中断、退役、刑满释放）",
}

HISTORY_VALUES = {
    "resident": "居民医保",
    "resident_zero_claim": "居民医保（当年零报销）",
    "employee": "职工医保",
    "none": "未参保",
}
COVERED = frozenset({"resident", "resident_zero_claim", "employee"})

RELATIONS = {
    "spouse": "配偶",
    "parent": "父母",
    "child": "子女",
    "sibling": "兄弟姐妹",
    "grandparent": "祖父母",
    "maternal_grandparent": "外祖父母",
    "grandchild": "孙子女",
    "maternal_grandchild": "外孙子女",
}

TIMINGS = ("window", "supplementary", "late", "exempt", "newborn")
TIMING_NAMES = {"window": "集中缴费期内", "supplementary": "补缴期", "late": "集中缴费期外",
                "exempt": "特殊群体（不受缴费期或等待期限制）", "newborn": "新生儿（出生当年不缴费）"}
PERIOD_KINDS = {"window": "集中缴费期", "supplementary": "补缴期", "late": "集中缴费期外"}
BENEFIT_START_RULES = {
    "year_start": "待遇年度首日",
    "payment_date": "缴费之日",
    "payment_plus_days": "缴费之日起 N 天后",
    "payment_plus_months": "缴费之日起 N 个月后",
}
CHARGES = {"personal": "个人缴费", "personal_plus_fiscal": "个人缴费 + 财政补助"}
TIER_KINDS = {"full": "全额资助", "percentage": "按比例资助", "fixed": "定额资助"}
GROUP_BENEFIT_STARTS = {
    "payment_date": "缴费之日（不早于待遇年度首日）",
    "next_day": "缴费次日（不早于待遇年度首日）",
    "birth_date": "出生之日",
}


# --- the policy -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CategorySpec:
    code: str
    name: str
    student: str | None  # None: chosen by birth date; else the student status it needs
    born_from: date | None  # inclusive; None = open
    born_to: date | None  # inclusive; None = open
    birth_range_in_source: bool  # False: the source gives no birth-date range
    personal_standard: Decimal | None  # None = not in source
    fiscal_subsidy: Decimal | None  # None = not in source


@dataclass(frozen=True, slots=True)
class PeriodSpec:
    kind: str  # window / supplementary / late
    starts_on: date | None  # None: the source gives no opening date (no lower bound)
    ends_on: date | None  # None: open until the end of the benefit year
    benefit_start: str  # year_start / payment_date / payment_plus_days / payment_plus_months
    offset: int  # N of the +N rules
    charge: str  # personal / personal_plus_fiscal

    def contains(self, d: date, year_end: date) -> bool:
        if self.starts_on is not None and d < self.starts_on:
            return False
        end = self.ends_on if self.ends_on is not None else year_end
        return d <= end


@dataclass(frozen=True, slots=True)
class AssistanceTierSpec:
    identity: str
    kind: str  # full / percentage / fixed
    percentage: Decimal | None  # for percentage; None = not in source
    amount: Decimal | None  # for fixed; None = not in source
    age_ranges: tuple[tuple[int | None, int | None], ...]  # any of (min, max), inclusive
    certified_by: date | None  # certificate must be dated on or before
    local_hukou_only: bool
    funding_source: str = ""
    certifying_department: str = ""
    # A certificate issued in the year of this date must have been assessed on or before it
    # (003 §二(五): "2025年新办证的应在10月31日前完成残疾评定").
    assessed_by: date | None = None


@dataclass(frozen=True, slots=True)
class SpecialGroupSpec:
    code: str  # an identity code, "newborn" or "left_other_scheme"
    exempt_from_periods: bool
    exempt_from_waiting: bool
    benefit_start: str  # payment_date / next_day / birth_date
    free_in_birth_year: bool = False  # newborns not charged in the birth year
    within_months: int | None = None  # left_other_scheme: months after leaving


@dataclass(frozen=True, slots=True)
class PolicySpec:
    region_code: str
    region_name: str
    year: int
    age_reference_date: date
    categories: tuple[CategorySpec, ...]
    periods: tuple[PeriodSpec, ...]
    assistance: tuple[AssistanceTierSpec, ...] = ()
    special_groups: tuple[SpecialGroupSpec, ...] = ()
    payment_day_from: int | None = None
    payment_day_to: int | None = None
    cash_working_days_only: bool = False  # 003 §三(一): cash only on working days
    bank_record_delay_working_days: int | None = None  # 003 §五: bank payments visible after N working days
    nonlocal_requires_permit: bool = True
    nonlocal_infant_parent_months: int | None = None
    college_course_prepay: bool = False  # 003 §三(二): college students pay the whole course at once
    registration_documents_listed: bool = False  # 000 §2: the source lists a registration's documents
    assistance_refund_in_window: bool = False  # dynamic adjustment (003 §二): see subsidies.roster
    continuity_from_year: int = 2025
    fixed_waiting_months: int = 3
    variable_waiting: bool = False
    variable_floor_gap_years: int | None = None
    variable_floor_months: int | None = None
    cap_after_years: int | None = None
    cap_increase_per_year: Decimal | None = None
    cap_break_decrease: Decimal | None = None
    cap_zero_claim_increase: Decimal | None = None
    cap_zero_claim_incentive: bool = False  # 004 (一)Q1 基金零报销激励 (a region without it: False)
    cap_break_decrease_per_year: bool = False  # 004 (一)Q1 "按照断保年数，降低" (Xianyang: once, 3000)
    flexible: FlexibleSchemeSpec | None = None  # the flexible-employment scheme, where the region runs one
    # derived, filled in __post_init__
    year_start: date = field(init=False)
    year_end: date = field(init=False)
    first_opening: date | None = field(init=False)
    groups_by_code: dict = field(init=False)
    tiers_by_identity: dict = field(init=False)

    def __post_init__(self):
        set_ = object.__setattr__
        set_(self, "year_start", date(self.year, 1, 1))
        set_(self, "year_end", date(self.year, 12, 31))
        starts = [p.starts_on for p in self.periods]
        set_(self, "first_opening", None if (not starts or None in starts) else min(starts))
        set_(self, "groups_by_code", {g.code: g for g in self.special_groups})
        set_(self, "tiers_by_identity", {t.identity: t for t in self.assistance})


# --- a request and its answer -----------------------------------------------------------


@dataclass(slots=True)
class Person:
    birth_date: date
    hukou: str = "local"  # local / nonlocal
    residence_permit: bool = False
    student: str | None = None
    employee_insured: bool = False
    parent_insured_locally: bool = False


@dataclass(slots=True)
class Identity:
    code: str
    certified_on: date | None = None
    assessed_on: date | None = None  # disability assessment (残疾评定) date, where known


@dataclass(slots=True)
class QuoteRequest:
    region: str
    year: int
    paid_on: date
    person: Person
    identities: tuple[Identity, ...] = ()
    history: dict[int, str] = field(default_factory=dict)
    repaired_years: frozenset[int] = frozenset()
    left_other_scheme_on: date | None = None


@dataclass(slots=True)
class Assistance:
    identity: str
    amount: Decimal


@dataclass(slots=True)
class Continuity:
    """What the coverage history means for benefit year Y."""

    gap_years: tuple[int, ...]  # the break years immediately before Y
    covered_run: int  # covered years in a row immediately before Y (from 2025)
    unrepaired: int  # gap years not made up by back-payment

    @property
    def continuous(self) -> bool:
        return not self.gap_years


@dataclass(slots=True)
class QuoteResult:
    region: str
    year: int
    category: str
    personal_standard: Decimal | None
    fiscal_subsidy: Decimal | None
    assistance: Assistance | None
    amount_due: Decimal
    timing: str
    benefit_start: date
    benefit_end: date
    waiting_months: int
    waiting_days: int
    cap_adjustment: int | None
    steps: list[str] | None = None  # the explanation in Chinese, when asked for
    cap: "CapDetail | None" = None  # what the cap adjustment is made of


@dataclass(slots=True)
class CapDetail:
    """The critical-illness cap incentives of a quoted year (002 05; 004 (一)Q1), each with its
    amount or None when the region runs the incentive but the source gives no amount."""

    continuous_years: int  # covered years in a row up to and including the year (0 after a break)
    increase_years: int  # years beyond the threshold that each raise the cap
    increase_per_year: Decimal | None
    zero_claim: bool  # the year before was enrolled with nothing reimbursed, and the region rewards it
    zero_claim_increase: Decimal | None
    break_years: int  # break years right before the year (0 when continuous)
    break_decrease: Decimal | None  # the whole decrease (per break year x break years, or once)
    unset: tuple[str, ...] = ()  # the figures (Chinese) the adjustment needs and the source lacks
