"""The policy data files in ``policies/`` (YAML, one per region and benefit year).

A file is read into a *normalised* dict whose keys are model field names:
``{"region", "year", "year_fields": {...}, "categories": [...], "periods":
[...], "assistance": [...], "special_groups": [...],
"flexible_employment": [...]}``.  The same normalised form is produced from
the database (``policy.services.policy_year_as_data``), so "is the database
what the file says?" is a plain comparison.  Money must be written as a
quoted string or an integer (never a YAML float); ``null`` means *not in
source*.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from zoneinfo import ZoneInfo

import yaml

from .rules.flexible import FlexibleRateSpec, FlexibleSchemeSpec
from .rules.types import (
    BENEFIT_START_RULES,
    CATEGORIES,
    CHARGES,
    GROUP_BENEFIT_STARTS,
    IDENTITIES,
    PERIOD_KINDS,
    RELATIONS,
    SPECIAL_GROUP_CODES,
    STUDENT_STATUSES,
    TIER_KINDS,
    AssistanceTierSpec,
    CategorySpec,
    PeriodSpec,
    PolicySpec,
    SpecialGroupSpec,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")


class PolicyFileError(ValueError):
    """A data file that does not say what the loader needs, with where."""


# file key -> (model field, kind); groups are flattened with the given prefix
_TOP = {
    "status": ("status", "status"),
    "source_document": ("source_document", "text"),
    "source_title": ("source_title", "text"),
    "notes": ("notes", "text"),
    "age_reference_date": ("age_reference_date", "date!"),
    "registration_starts_on": ("registration_starts_on", "date"),
    "registration_ends_on": ("registration_ends_on", "date"),
    "continuity_from_year": ("continuity_from_year", "int!"),
    "nonlocal_requires_permit": ("nonlocal_requires_permit", "bool"),
    "nonlocal_infant_parent_months": ("nonlocal_infant_parent_months", "int"),
    "assistance_refund_in_window": ("assistance_refund_in_window", "bool"),
    "college_course_prepay": ("college_course_prepay", "bool"),
    "registration_documents_listed": ("registration_documents_listed", "bool"),
}
_GROUPS = {
    "payments": {
        "day_from": ("payment_day_from", "int"),
        "day_to": ("payment_day_to", "int"),
        "cash_working_days_only": ("cash_working_days_only", "bool"),
        "bank_record_delay_working_days": ("bank_record_delay_working_days", "int"),
    },
    "waiting": {
        "fixed_months": ("fixed_waiting_months", "int!"),
        "variable": ("variable_waiting", "bool"),
        "floor_gap_years": ("variable_floor_gap_years", "int"),
        "floor_months": ("variable_floor_months", "int"),
    },
    "cap": {
        "after_years": ("cap_after_years", "int"),
        "increase_per_year": ("cap_increase_per_year", "money"),
        "break_decrease": ("cap_break_decrease", "money"),
        "zero_claim_increase": ("cap_zero_claim_increase", "money"),
        "zero_claim_incentive": ("cap_zero_claim_incentive", "bool"),
        "break_decrease_per_year": ("cap_break_decrease_per_year", "bool"),
    },
    "flexible_scheme": {
        "pay_by": ("flex_pay_by", "date"),
        "makeup_within_months": ("flex_makeup_within_months", "int"),
        "waiting_months": ("flex_waiting_months", "int"),
        "certificate_after_days": ("flex_certificate_after_days", "int"),
    },
    "family_pool": {
        "relations": ("pool_relations", "relations"),
        "organizer_scope": ("pool_organizer_scope", "scope"),
        "medical_payment": ("pool_medical_payment", "bool"),
        "premium_payment": ("pool_premium_payment", "bool"),
        "premium_cutoff": ("pool_premium_cutoff", "datetime"),
        "batch_starts_on": ("pool_batch_starts_on", "date"),
        "results_on": ("pool_results_on", "date"),
        "certificate_working_days": ("pool_certificate_working_days", "int"),
        "school_cancel_deadline": ("pool_school_cancel_deadline", "datetime"),
        "community_cancel_same_day": ("pool_community_cancel_same_day", "bool"),
    },
}
YEAR_DEFAULTS = {
    "status": "draft", "source_document": "", "source_title": "", "notes": "",
    "registration_starts_on": None, "registration_ends_on": None, "continuity_from_year": 2025,
    "nonlocal_requires_permit": True, "nonlocal_infant_parent_months": None,
    "assistance_refund_in_window": False, "college_course_prepay": False,
    "registration_documents_listed": False,
    "payment_day_from": None, "payment_day_to": None, "cash_working_days_only": False,
    "bank_record_delay_working_days": None, "fixed_waiting_months": 3, "variable_waiting": False,
    "variable_floor_gap_years": None, "variable_floor_months": None, "cap_after_years": None,
    "cap_increase_per_year": None, "cap_break_decrease": None, "cap_zero_claim_increase": None,
    "cap_zero_claim_incentive": False, "cap_break_decrease_per_year": False,
    "flex_pay_by": None, "flex_makeup_within_months": None, "flex_waiting_months": None,
    "flex_certificate_after_days": None,
    "pool_relations": [], "pool_organizer_scope": "", "pool_medical_payment": False,
    "pool_premium_payment": False, "pool_premium_cutoff": None, "pool_batch_starts_on": None,
    "pool_results_on": None, "pool_certificate_working_days": None,
    "pool_school_cancel_deadline": None, "pool_community_cancel_same_day": False,
}

_CHILDREN = {
    "categories": {
        "code": ("code", ("choice!", CATEGORIES)),
        "name": ("name", "text!"),
        "student": ("student", ("choice_blank", STUDENT_STATUSES)),
        "born_from": ("born_from", "date"),
        "born_to": ("born_to", "date"),
        "birth_range_in_source": ("birth_range_in_source", "bool_true"),
        "personal_standard": ("personal_standard", "money?"),
        "fiscal_subsidy": ("fiscal_subsidy", "money?"),
        "source_note": ("source_note", "text"),
    },
    "periods": {
        "kind": ("kind", ("choice!", PERIOD_KINDS)),
        "starts_on": ("starts_on", "date?"),
        "ends_on": ("ends_on", "date?"),
        "benefit_start": ("benefit_start", ("choice!", BENEFIT_START_RULES)),
        "offset": ("offset", "int0"),
        "charge": ("charge", ("choice!", CHARGES)),
        "source_note": ("source_note", "text"),
    },
    "assistance": {
        "identity": ("identity", ("choice!", IDENTITIES)),
        "kind": ("kind", ("choice!", TIER_KINDS)),
        "percentage": ("percentage", "money"),
        "amount": ("amount", "money?"),
        "age_ranges": ("age_ranges", "ranges"),
        "certified_by": ("certified_by", "date"),
        "assessed_by": ("assessed_by", "date"),
        "local_hukou_only": ("local_hukou_only", "bool"),
        "funding_source": ("funding_source", "text"),
        "certifying_department": ("certifying_department", "text"),
        "source_note": ("source_note", "text"),
    },
    "special_groups": {
        "code": ("code", ("choice!", {**SPECIAL_GROUP_CODES, **IDENTITIES})),
        "exempt_from_periods": ("exempt_from_periods", "bool_true"),
        "exempt_from_waiting": ("exempt_from_waiting", "bool_true"),
        "benefit_start": ("benefit_start", ("choice!", GROUP_BENEFIT_STARTS)),
        "free_in_birth_year": ("free_in_birth_year", "bool"),
        "within_months": ("within_months", "int"),
        "source_note": ("source_note", "text"),
    },
    "flexible_employment": {
        "status": ("status", ("choice!", {"in_service": "", "retired": ""})),
        "component": ("component", ("choice!", {"basic": "", "large_medical": "",
                                                "critical_illness": ""})),
        "annual_amount": ("annual_amount", "money?"),
        "monthly_amount": ("monthly_amount", "money"),
        "source_note": ("source_note", "text"),
    },
}
# Keys a child row must carry even when null (so "not in source" is said, not forgotten).
_EXPLICIT = {"money?", "date?"}


def money(value, where: str) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, bool) or isinstance(value, float):
        raise PolicyFileError(f"{where}: write money as a quoted string such as \"172.80\", not {value!r}")
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise PolicyFileError(f"{where}: not an amount: {value!r}") from None
    if amount != amount.quantize(Decimal("0.01")):
        raise PolicyFileError(f"{where}: more than two decimals: {value!r}")
    return amount.quantize(Decimal("0.01"))


def _date(value, where: str) -> date | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        raise PolicyFileError(f"{where}: expected a date, got a date-time")
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise PolicyFileError(f"{where}: expected a date YYYY-MM-DD, got {value!r}")


def _datetime(value, where: str) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise PolicyFileError(f"{where}: expected an ISO date-time, got {value!r}") from None
    if not isinstance(value, datetime):
        raise PolicyFileError(f"{where}: expected a date-time, got {value!r}")
    if value.tzinfo is None:
        raise PolicyFileError(f"{where}: a date-time needs its offset, e.g. +08:00")
    return value.astimezone(SHANGHAI)


def _convert(value, kind, where: str):
    if isinstance(kind, tuple):
        name, allowed = kind
        if name == "choice_blank" and value in (None, ""):
            return ""
        if value not in allowed:
            raise PolicyFileError(f"{where}: {value!r} is not one of {', '.join(allowed)}")
        return value
    base = kind.rstrip("!?")
    required = kind.endswith("!")
    if value is None and required:
        raise PolicyFileError(f"{where}: required")
    if base == "money":
        return money(value, where)
    if base == "date":
        return _date(value, where)
    if base == "datetime":
        return _datetime(value, where)
    if base in ("int", "int0"):
        if value is None:
            return 0 if base == "int0" else None
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise PolicyFileError(f"{where}: expected a whole number >= 0, got {value!r}")
        return value
    if base in ("bool", "bool_true"):
        if value is None:
            return base == "bool_true"
        if not isinstance(value, bool):
            raise PolicyFileError(f"{where}: expected true or false, got {value!r}")
        return value
    if base == "text":
        if value is None:
            if required:
                raise PolicyFileError(f"{where}: required")
            return ""
        return str(value)
    if base == "status":
        if value not in ("draft", "published"):
            raise PolicyFileError(f"{where}: status must be draft or published")
        return value
    if base == "scope":
        if value not in (None, "", "region", "province"):
            raise PolicyFileError(f"{where}: organizer_scope must be region or province")
        return value or ""
    if base == "relations":
        value = value or []
        bad = [r for r in value if r not in RELATIONS]
        if bad:
            raise PolicyFileError(f"{where}: unknown relation {bad[0]!r}")
        return list(value)
    if base == "ranges":
        out = []
        for rng in value or []:
            if (not isinstance(rng, list) or len(rng) != 2
                    or any(v is not None and (isinstance(v, bool) or not isinstance(v, int)) for v in rng)):
                raise PolicyFileError(f"{where}: each age range is [min, max] (null for open)")
            out.append(list(rng))
        return out
    raise AssertionError(kind)  # pragma: no cover


def normalise(raw: dict, where: str = "policy") -> dict:
    """A parsed YAML document -> the normalised policy dict (PolicyFileError on faults)."""
    if not isinstance(raw, dict):
        raise PolicyFileError(f"{where}: the file must hold a mapping")
    region = raw.get("region")
    if not isinstance(region, str) or not (len(region) == 6 and region.isdigit()):
        raise PolicyFileError(f"{where}: region must be a quoted six-digit code, e.g. \"330200\"")
    year = raw.get("year")
    if isinstance(year, bool) or not isinstance(year, int):
        raise PolicyFileError(f"{where}: year must be a number")
    fields = dict(YEAR_DEFAULTS)
    known = {"region", "year", *_TOP, *_GROUPS, *_CHILDREN}
    for key in raw:
        if key not in known:
            raise PolicyFileError(f"{where}: unknown key {key!r}")
    for key, (field, kind) in _TOP.items():
        if key in raw or kind.endswith("!"):
            fields[field] = _convert(raw.get(key), kind, f"{where}: {key}")
    for group, keys in _GROUPS.items():
        section = raw.get(group) or {}
        if not isinstance(section, dict):
            raise PolicyFileError(f"{where}: {group} must be a mapping")
        for key in section:
            if key not in keys:
                raise PolicyFileError(f"{where}: unknown key {group}.{key}")
        for key, (field, kind) in keys.items():
            if key in section or kind.endswith("!"):
                fields[field] = _convert(section.get(key), kind, f"{where}: {group}.{key}")
    data = {"region": region, "year": year, "year_fields": fields}
    for name, keys in _CHILDREN.items():
        rows = raw.get(name) or []
        if not isinstance(rows, list):
            raise PolicyFileError(f"{where}: {name} must be a list")
        out = []
        for i, row in enumerate(rows):
            here = f"{where}: {name}[{i}]"
            if not isinstance(row, dict):
                raise PolicyFileError(f"{here}: must be a mapping")
            for key in row:
                if key not in keys:
                    raise PolicyFileError(f"{here}: unknown key {key!r}")
            item = {"sort_order": i}
            for key, (field, kind) in keys.items():
                if isinstance(kind, str) and kind in _EXPLICIT and key not in row:
                    raise PolicyFileError(
                        f"{here}: {key} must be written, as null when the source does not give it")
                item[field] = _convert(row.get(key), kind, f"{here}: {key}")
            out.append(item)
        data[name] = out
    return data


def read_policy_file(path: Path) -> dict:
    with open(path, encoding="utf-8") as fh:
        try:
            raw = yaml.safe_load(fh)
        except yaml.YAMLError as exc:
            raise PolicyFileError(f"{path.name}: not valid YAML: {exc}") from None
    return normalise(raw, path.name)


def read_regions_file(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as fh:
        raw = yaml.safe_load(fh)
    if not isinstance(raw, dict) or not isinstance(raw.get("regions"), list):
        raise PolicyFileError(f"{path.name}: expected a 'regions' list")
    out = []
    for i, row in enumerate(raw["regions"]):
        code = row.get("code")
        if not isinstance(code, str) or len(code) != 6 or not code.isdigit():
            raise PolicyFileError(f"{path.name}: regions[{i}].code must be a quoted six-digit code")
        out.append({
            "code": code, "name": str(row["name"]), "province": str(row["province"]),
            "province_code": str(row["province_code"]),
            "policy_region_id": row.get("policy_region") or None,
        })
    return out


def policy_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.glob("*.yaml") if p.name != "regions.yaml")


def spec_from_data(data: dict, region_name: str) -> PolicySpec:
    """The rules' PolicySpec from a normalised policy dict."""
    f = data["year_fields"]
    return PolicySpec(
        region_code=data["region"],
        region_name=region_name,
        year=data["year"],
        age_reference_date=f["age_reference_date"],
        categories=tuple(
            CategorySpec(code=c["code"], name=c["name"], student=c["student"] or None,
                         born_from=c["born_from"], born_to=c["born_to"],
                         birth_range_in_source=c["birth_range_in_source"],
                         personal_standard=c["personal_standard"], fiscal_subsidy=c["fiscal_subsidy"])
            for c in data["categories"]),
        periods=tuple(
            PeriodSpec(kind=p["kind"], starts_on=p["starts_on"], ends_on=p["ends_on"],
                       benefit_start=p["benefit_start"], offset=p["offset"], charge=p["charge"])
            for p in data["periods"]),
        assistance=tuple(
            AssistanceTierSpec(identity=t["identity"], kind=t["kind"], percentage=t["percentage"],
                               amount=t["amount"],
                               age_ranges=tuple(tuple(r) for r in t["age_ranges"]),
                               certified_by=t["certified_by"], local_hukou_only=t["local_hukou_only"],
                               funding_source=t["funding_source"],
                               certifying_department=t["certifying_department"],
                               assessed_by=t.get("assessed_by"))
            for t in data["assistance"]),
        special_groups=tuple(
            SpecialGroupSpec(code=g["code"], exempt_from_periods=g["exempt_from_periods"],
                             exempt_from_waiting=g["exempt_from_waiting"],
                             benefit_start=g["benefit_start"],
                             free_in_birth_year=g["free_in_birth_year"],
                             within_months=g["within_months"])
            for g in data["special_groups"]),
        payment_day_from=f["payment_day_from"],
        payment_day_to=f["payment_day_to"],
        cash_working_days_only=f["cash_working_days_only"],
        bank_record_delay_working_days=f["bank_record_delay_working_days"],
        nonlocal_requires_permit=f["nonlocal_requires_permit"],
        nonlocal_infant_parent_months=f["nonlocal_infant_parent_months"],
        assistance_refund_in_window=f["assistance_refund_in_window"],
        college_course_prepay=f["college_course_prepay"],
        registration_documents_listed=f["registration_documents_listed"],
        continuity_from_year=f["continuity_from_year"],
        fixed_waiting_months=f["fixed_waiting_months"],
        variable_waiting=f["variable_waiting"],
        variable_floor_gap_years=f["variable_floor_gap_years"],
        variable_floor_months=f["variable_floor_months"],
        cap_after_years=f["cap_after_years"],
        cap_increase_per_year=f["cap_increase_per_year"],
        cap_break_decrease=f["cap_break_decrease"],
        cap_zero_claim_increase=f["cap_zero_claim_increase"],
        cap_zero_claim_incentive=f["cap_zero_claim_incentive"],
        cap_break_decrease_per_year=f["cap_break_decrease_per_year"],
        flexible=_flexible_spec(data),
    )


def _flexible_spec(data: dict) -> FlexibleSchemeSpec | None:
    """The flexible-employment scheme of a policy year; None when it has no rates (the
    region runs no such scheme, or its source does not cover it)."""
    rows = data.get("flexible_employment") or []
    if not rows:
        return None
    f = data["year_fields"]
    return FlexibleSchemeSpec(
        rates=tuple(FlexibleRateSpec(status=r["status"], component=r["component"],
                                     annual_amount=r["annual_amount"],
                                     monthly_amount=r.get("monthly_amount"))
                    for r in rows),
        pay_by=f["flex_pay_by"], makeup_within_months=f["flex_makeup_within_months"],
        waiting_months=f["flex_waiting_months"], certificate_after_days=f["flex_certificate_after_days"],
    )


def clone_data(data: dict, to_year: int) -> dict:
    """A copy of a normalised policy for another year: every figure the same,
    every date moved by the difference in years (29 Feb -> 28 Feb)."""
    from .rules.dates import shift_datetime_years, shift_years

    delta = to_year - data["year"]

    def move(value):
        if isinstance(value, datetime):
            return shift_datetime_years(value, delta)
        if isinstance(value, date):
            return shift_years(value, delta)
        if isinstance(value, list):
            return [move(v) for v in value]
        return value

    out = {"region": data["region"], "year": to_year,
           "year_fields": {k: move(v) for k, v in data["year_fields"].items()}}
    out["year_fields"]["status"] = "draft"
    for name in _CHILDREN:
        out[name] = [{k: move(v) for k, v in row.items()} for row in data.get(name, [])]
    return out
