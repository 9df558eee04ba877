"""JSON <-> rule values for the quote (INTERFACES.md section 2); pure.

``parse_request`` turns one decoded JSON object into a QuoteRequest or raises
QuoteError("invalid_input") naming the field; ``result_to_dict`` renders a
result with money as two-decimal strings and dates as ISO strings.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from decimal import Decimal

from .errors import QuoteError
from .flexible import FILE_HOLDERS, FLEX_COMPONENTS, FLEX_STATUSES, FlexibleRequest, FlexibleResult
from .types import (
    HISTORY_VALUES,
    IDENTITIES,
    IDENTITY_ALIASES,
    STUDENT_STATUSES,
    CapDetail,
    Identity,
    Person,
    QuoteRequest,
    QuoteResult,
)

REQUEST_FIELDS = {"region", "year", "paid_on", "person", "identities", "history",
                  "repaired_years", "left_other_scheme_on", "scheme"}
SCHEMES = {"resident": "城乡居民基本医疗保险", "flexible_employment": "灵活就业人员医疗保险"}
# A request with "scheme": "flexible_employment" carries these instead.
FLEXIBLE_REQUEST_FIELDS = {"region", "year", "paid_on", "scheme", "flexible"}
FLEXIBLE_FIELDS = {"status", "file_held_at", "paid_previous_year", "special_group",
                   "retirement_age_reached_on"}
PERSON_FIELDS = {"birth_date", "hukou", "residence_permit", "student", "employee_insured",
                 "parent_insured_locally"}
REGION_RE = re.compile(r"^\d{6}$")
EARLIEST, LATEST = date(1900, 1, 1), date(2200, 12, 31)
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_STUDENT_ALIASES = {"中小学生": "primary_secondary", "大学生": "college"}
_HUKOU = {"local": "local", "nonlocal": "nonlocal", "本地": "local", "外地": "nonlocal"}


def _bad(field: str, reason: str) -> QuoteError:
    return QuoteError("invalid_input", f"{field}: {reason}")


def parse_date(value, field: str, *, required: bool = True) -> date | None:
    if value is None:
        if required:
            raise _bad(field, "必填 (required)")
        return None
    if not isinstance(value, str) or not _ISO_DATE.match(value):
        raise _bad(field, f"应为 YYYY-MM-DD 格式的日期 (expected an ISO date), 收到 {value!r}")
    try:
        parsed = date.fromisoformat(value)
    except ValueError:
        raise _bad(field, f"不存在的日期 (no such date) {value!r}") from None
    # The rules add months and years to dates: keep them where that cannot overflow.
    if not EARLIEST <= parsed <= LATEST:
        raise _bad(field, f"日期应在 {EARLIEST.isoformat()} 至 {LATEST.isoformat()} 之间 "
                          f"(date out of range), 收到 {value!r}")
    return parsed


def _parse_bool(value, field: str, default: bool = False) -> bool:
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    raise _bad(field, f"应为 true 或 false (expected a boolean), 收到 {value!r}")


def _parse_year(value, field: str) -> int:
    if isinstance(value, bool) or value is None:
        raise _bad(field, "必填，应为年份整数 (required integer year)")
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if not isinstance(value, int) or not 1900 <= value <= 2200:
        raise _bad(field, f"应为四位年份 (expected a year), 收到 {value!r}")
    return value


# The traditional characters of the identity names in the sources (003 is written in
# them), as simplified: enough to read every name of the identity table either way.
_SIMPLIFIED = str.maketrans(
    "員對監測貧殘證撫優屬業職兒實無養邊緣級穩脫醫療戶難聯軍鄉興發庭療際僅層嚴穩個並認證",
    "员对监测贫残证抚优属业职儿实无养边缘级稳脱医疗户难联军乡兴发庭疗际仅层严稳个并认证")
_REMARK = re.compile(r"[（(][^（）()]*[）)]$")


def normalise_name(value: str) -> str:
    """A name as the identity table is compared: NFKC (full-width brackets and letters
    as plain ones), no spaces, simplified characters, no trailing remark in brackets
    ("特困人员（含孤儿）" → "特困人员")."""
    text = unicodedata.normalize("NFKC", value)
    text = re.sub(r"\s+", "", text).translate(_SIMPLIFIED)
    while True:
        cut = _REMARK.sub("", text)
        if cut == text or not cut:
            return text
        text = cut


_BY_NAME = None


def identity_code(value) -> str | None:
    """An identity code from a code or a Chinese name; None when unknown."""
    global _BY_NAME
    if not isinstance(value, str):
        return None
    text = value.strip()
    if text in IDENTITIES:
        return text
    if _BY_NAME is None:
        names = {normalise_name(name): code for code, name in IDENTITIES.items()}
        names.update({normalise_name(name): code for name, code in IDENTITY_ALIASES.items()})
        _BY_NAME = names
    return _BY_NAME.get(normalise_name(text))


def _parse_person(raw) -> Person:
    if not isinstance(raw, dict):
        raise _bad("person", "必填，应为对象 (required object)")
    unknown = set(raw) - PERSON_FIELDS
    if unknown:
        raise _bad("person." + sorted(unknown)[0], "未知字段 (unknown field)")
    hukou_raw = raw.get("hukou", "local")
    hukou = _HUKOU.get(hukou_raw) if isinstance(hukou_raw, str) else None
    if hukou is None:
        raise _bad("person.hukou", f"应为 local 或 nonlocal, 收到 {hukou_raw!r}")
    student = raw.get("student")
    if student is not None:
        student = _STUDENT_ALIASES.get(student, student)
        if student not in STUDENT_STATUSES:
            raise _bad("person.student",
                       f"应为 null、primary_secondary 或 college, 收到 {raw.get('student')!r}")
    return Person(
        birth_date=parse_date(raw.get("birth_date"), "person.birth_date"),
        hukou=hukou,
        residence_permit=_parse_bool(raw.get("residence_permit"), "person.residence_permit"),
        student=student,
        employee_insured=_parse_bool(raw.get("employee_insured"), "person.employee_insured"),
        parent_insured_locally=_parse_bool(raw.get("parent_insured_locally"),
                                           "person.parent_insured_locally"),
    )


def _parse_identities(raw) -> tuple[Identity, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise _bad("identities", "应为数组 (expected an array)")
    out = []
    for i, item in enumerate(raw):
        field = f"identities[{i}]"
        if isinstance(item, str):
            item = {"code": item}
        if not isinstance(item, dict):
            raise _bad(field, "应为 {\"code\": ..., \"certified_on\": ...} 对象")
        unknown = set(item) - {"code", "certified_on", "assessed_on"}
        if unknown:
            raise _bad(f"{field}.{sorted(unknown)[0]}", "未知字段 (unknown field)")
        code = identity_code(item.get("code"))
        if code is None:
            raise _bad(f"{field}.code", f"未知的困难身份 (unknown identity) {item.get('code')!r}")
        certified_on = parse_date(item.get("certified_on"), f"{field}.certified_on", required=False)
        if code == "disabled_certified" and certified_on is None:
            raise _bad(f"{field}.certified_on",
                       "持第二代残疾人证人员须提供认定日期 (disabled_certified needs certified_on)")
        assessed_on = parse_date(item.get("assessed_on"), f"{field}.assessed_on", required=False)
        if assessed_on is not None and code not in ("disabled_certified", "disabled_severe"):
            raise _bad(f"{field}.assessed_on", "残疾评定日期仅适用于残疾人身份 (assessed_on is for disability identities)")
        out.append(Identity(code=code, certified_on=certified_on, assessed_on=assessed_on))
    return tuple(out)


def _parse_history(raw) -> dict[int, str]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise _bad("history", "应为 {\"年度\": \"resident|resident_zero_claim|employee|none\"} 对象")
    out = {}
    for key, value in raw.items():
        if not (isinstance(key, str) and key.isdigit() and len(key) == 4):
            raise _bad("history", f"年度应为四位数字 (year keys), 收到 {key!r}")
        if value not in HISTORY_VALUES:
            raise _bad(f"history.{key}", f"应为 {'、'.join(HISTORY_VALUES)} 之一, 收到 {value!r}")
        out[int(key)] = value
    return out


def _parse_repaired(raw) -> frozenset[int]:
    if raw is None:
        return frozenset()
    if not isinstance(raw, list):
        raise _bad("repaired_years", "应为年度数组 (expected an array of years)")
    return frozenset(_parse_year(v, f"repaired_years[{i}]") for i, v in enumerate(raw))


def request_scheme(raw) -> str:
    """The scheme a request object asks about: "resident" (the default) or "flexible_employment"."""
    if not isinstance(raw, dict):
        raise QuoteError("invalid_input", "请求应为 JSON 对象 (expected a JSON object)")
    scheme = raw.get("scheme", "resident")
    if scheme is None:
        scheme = "resident"
    if not isinstance(scheme, str) or scheme not in SCHEMES:
        raise _bad("scheme", f"应为 resident 或 flexible_employment, 收到 {scheme!r}")
    return scheme


def _parse_region(raw) -> str:
    region = raw.get("region")
    if isinstance(region, int) and not isinstance(region, bool):
        region = str(region)
    if not isinstance(region, str) or not REGION_RE.match(region.strip()):
        raise _bad("region", f"必填，应为六位行政区划代码 (GB/T 2260), 收到 {region!r}")
    return region.strip()


def parse_request(raw) -> QuoteRequest:
    """One request object -> QuoteRequest (QuoteError invalid_input on any fault)."""
    if request_scheme(raw) != "resident":
        raise _bad("scheme", "该请求为灵活就业人员医疗保险测算，应使用 parse_flexible_request")
    unknown = set(raw) - REQUEST_FIELDS
    if unknown:
        raise _bad(sorted(unknown)[0], "未知字段 (unknown field)")
    return QuoteRequest(
        region=_parse_region(raw),
        year=_parse_year(raw.get("year"), "year"),
        paid_on=parse_date(raw.get("paid_on"), "paid_on"),
        person=_parse_person(raw.get("person")),
        identities=_parse_identities(raw.get("identities")),
        history=_parse_history(raw.get("history")),
        repaired_years=_parse_repaired(raw.get("repaired_years")),
        left_other_scheme_on=parse_date(raw.get("left_other_scheme_on"), "left_other_scheme_on",
                                        required=False),
    )


def parse_flexible_request(raw) -> FlexibleRequest:
    """A request with "scheme": "flexible_employment" -> FlexibleRequest."""
    if request_scheme(raw) != "flexible_employment":
        raise _bad("scheme", "应为 flexible_employment")
    unknown = set(raw) - FLEXIBLE_REQUEST_FIELDS
    if unknown:
        name = sorted(unknown)[0]
        reason = ("灵活就业人员医疗保险测算不使用该字段 (not used by the flexible_employment scheme)"
                  if name in REQUEST_FIELDS else "未知字段 (unknown field)")
        raise _bad(name, reason)
    region = _parse_region(raw)
    year = _parse_year(raw.get("year"), "year")
    paid_on = parse_date(raw.get("paid_on"), "paid_on")
    flex = raw.get("flexible")
    if not isinstance(flex, dict):
        raise _bad("flexible", "必填，应为对象 (required object)")
    unknown = set(flex) - FLEXIBLE_FIELDS
    if unknown:
        raise _bad("flexible." + sorted(unknown)[0], "未知字段 (unknown field)")
    status = flex.get("status")
    if status not in FLEX_STATUSES:
        raise _bad("flexible.status", f"必填，应为 in_service（在职）或 retired（退休）, 收到 {status!r}")
    held = flex.get("file_held_at")
    if held not in FILE_HOLDERS:
        raise _bad("flexible.file_held_at",
                   f"必填，应为 {'、'.join(FILE_HOLDERS)} 之一, 收到 {held!r}")
    if not isinstance(flex.get("paid_previous_year"), bool):
        raise _bad("flexible.paid_previous_year", "必填，应为 true 或 false (required boolean)")
    return FlexibleRequest(
        region=region, year=year, paid_on=paid_on, status=status, file_held_at=held,
        paid_previous_year=flex["paid_previous_year"],
        special_group=_parse_bool(flex.get("special_group"), "flexible.special_group"),
        retirement_age_reached_on=parse_date(flex.get("retirement_age_reached_on"),
                                             "flexible.retirement_age_reached_on", required=False),
    )


def money_str(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:.2f}"


def result_to_dict(result: QuoteResult, *, with_steps: bool = False, with_cap: bool = False) -> dict:
    out = {
        "region": result.region,
        "year": result.year,
        "category": result.category,
        "personal_standard": money_str(result.personal_standard),
        "fiscal_subsidy": money_str(result.fiscal_subsidy),
        "assistance": None if result.assistance is None else {
            "identity": result.assistance.identity,
            "amount": money_str(result.assistance.amount),
        },
        "amount_due": money_str(result.amount_due),
        "timing": result.timing,
        "benefit_start": result.benefit_start.isoformat(),
        "benefit_end": result.benefit_end.isoformat(),
        "waiting_months": result.waiting_months,
        "waiting_days": result.waiting_days,
        "cap_adjustment": result.cap_adjustment,
    }
    if with_steps and result.steps is not None:
        out["explanation"] = list(result.steps)
    if with_cap:
        out["cap_detail"] = None if result.cap is None else cap_detail_to_dict(result.cap)
    return out


def cap_detail_to_dict(cap: CapDetail) -> dict:
    """The cap incentives of a quote (only when asked for, so the contract's answer keeps
    exactly its fields); an unset amount is null and named in ``unset``."""
    return {
        "continuous_years": cap.continuous_years,
        "increase_years": cap.increase_years,
        "increase_per_year": money_str(cap.increase_per_year),
        "zero_claim": cap.zero_claim,
        "zero_claim_increase": money_str(cap.zero_claim_increase),
        "break_years": cap.break_years,
        "break_decrease": money_str(cap.break_decrease),
        "unset": list(cap.unset),
    }


def flexible_result_to_dict(result: FlexibleResult, *, with_steps: bool = False) -> dict:
    out = {
        "region": result.region,
        "year": result.year,
        "scheme": "flexible_employment",
        "status": result.status,
        "parts": [{"component": p.component, "name": FLEX_COMPONENTS[p.component],
                   "amount": money_str(p.amount)} for p in result.parts],
        "amount_due": money_str(result.amount_due),
        "timing": result.timing,
        "interruption_months": result.interruption_months,
        "makeup_basic": money_str(result.makeup_basic),
        "benefit_start": result.benefit_start.isoformat(),
        "benefit_end": result.benefit_end.isoformat(),
        "waiting_months": result.waiting_months,
        "certificate_from": None if result.certificate_from is None else result.certificate_from.isoformat(),
        "retired_from": None if result.retired_from is None else result.retired_from.isoformat(),
    }
    if with_steps and result.steps is not None:
        out["explanation"] = list(result.steps)
    return out
