"""Import of a department's roster (困难人员名单) for a region and benefit year:
姓名, 身份证号码, 困难类别, 认定部门, 认定日期 (INTERFACES.md section 4).

Every row is read and checked first (the identity by code or any Chinese name,
the department one that certifies that identity in the region's policy, the
certificate cut-off, the name against the matched resident, duplicates);
then the difference with the department's list on file is worked out
(new / updated / unchanged / removed) and, from it, what changes for each
person whose identities change — all in memory, so the admin's preview shows
exactly what a confirmation will do:

- an unpaid (registered) enrollment of the year is priced again with the
  person's identities as they will be (the single highest assistance);
- a paid enrollment, in a region whose policy says so (吕梁 003 §二, the
  ``assistance_refund_in_window`` flag), is owed the assistance part back when
  the identity was certified by the end of the window (an OwedRefund, paid
  out by the payments ledger); certified after the window, nothing is owed;
- a person not yet registered keeps a *pending* identity, which applies when
  they register (every pricing path reads identities by ID number).

The write is one transaction, serialised per region and year by an advisory
lock: COPY into a staging table, an upsert in key order, the removed marked
(never deleted), the difference kept as RosterChange rows, the new prices
written by the one enrollment writer (``enrollment.writer``).  A file with any
faulty row writes nothing unless ``skip_invalid``.  Importing the same file
again changes nothing.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Callable

from django.db import connection, transaction
from django.utils import timezone
from stdnum.cn import ric

from core import clock
from core.gc_pause import cyclic_gc_paused
from core.audit import audit_context
from core.audit_actor import acting_user
from enrollment.imports.common import RowError, cell_errors, check_id, check_name, report_errors
from enrollment.pricing import registration_date
from enrollment.selectors import PersonFacts, joined, live_enrollments_of, quote_requests_for, resident_names
from enrollment.spreadsheet import SpreadsheetError, Table, plain, read_table
from enrollment.writer import Repriced, enrollments_reprice
from policy.models import Region
from policy.rules import PolicySpec, QuoteError
from policy.rules.io import identity_code
from policy.rules.types import IDENTITIES, Identity
from policy.selectors import policy_members, published_spec

from .departments import DEPARTMENTS, department_code, known_departments_text
from .models import AssistanceIdentity, OwedRefund, RosterChange, RosterImport
from .quote_memo import ClassQuoteMemo
from .selectors import lock_identities

ROSTER_REQUIRED = ["姓名", "身份证号码", "困难类别", "认定部门", "认定日期"]
ROSTER_OPTIONAL = ["评定日期"]  # the disability assessment date (003 §二(五)), where a department gives it
EARLIEST_CERTIFIED = date(1950, 1, 1)
SHOWN = 50  # characters of a received value quoted back in a message


def _echo(text: str) -> str:
    return repr(text if len(text) <= SHOWN else text[:SHOWN] + "…")


class RosterFileError(SpreadsheetError):
    """The file (or its region and year) cannot be imported at all."""


@dataclass(slots=True)
class RosterRow:
    row: int
    id_number: str
    name: str
    identity: str
    department: str
    department_name: str
    certified_on: date
    assessed_on: date | None = None
    matched: bool = False
    change: str = "new"  # new / updated / unchanged

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.id_number, self.department, self.identity)


@dataclass(slots=True)
class OnFile:
    """An identity of the department's list on file."""

    pk: int
    id_number: str
    name: str
    department: str
    identity: str
    certified_on: date | None
    active: bool
    assessed_on: date | None = None


@dataclass(slots=True)
class OwedChange:
    enrollment_id: int
    id_number: str
    name: str
    region_id: str
    identity: str
    paid_amount: Decimal
    due_with_assistance: Decimal
    amount: Decimal  # 0: a refund still owed is withdrawn


@dataclass
class RosterResult:
    region: str = ""
    year: int = 0
    total_rows: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    pending: int = 0
    repriced: int = 0
    refunds_owed: int = 0
    errors: list[RowError] = field(default_factory=list)
    rejected: bool = False
    dry_run: bool = False
    rows: list[RosterRow] = field(default_factory=list)
    removed_rows: list[OnFile] = field(default_factory=list)
    departments: list[str] = field(default_factory=list)
    rosters: list[int] = field(default_factory=list)  # RosterImport ids written
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"rows": self.total_rows, "new": self.new, "unchanged": self.unchanged,
                "removed": self.removed, "invalid_rows": len({e.row for e in self.errors}),
                "pending": self.pending, "rejected": self.rejected, "updated": self.updated,
                "repriced": self.repriced, "refunds_owed": self.refunds_owed}


def import_roster(data: bytes, filename: str, *, region: str, year: int, **kwargs) -> RosterResult:
    with cyclic_gc_paused():
        table = read_table(data, filename, required=ROSTER_REQUIRED, optional=ROSTER_OPTIONAL)
        return import_roster_table(table, region=region, year=year, filename=filename, **kwargs)


def check_scope(region: str, year, user=None) -> tuple[Region, PolicySpec]:
    """The region and its published policy for the year, or RosterFileError."""
    from accounts.scoping import region_codes

    code = str(region or "").strip()
    found = Region.objects.filter(code=code).first() if re.fullmatch(r"\d{6}", code) else None
    if found is None:
        raise RosterFileError(f"未知地区 {_echo(code)}，请填写六位行政区划代码")
    codes = region_codes(user) if acting_user(user) is not None else None
    if codes is not None and code not in codes:
        raise RosterFileError(f"{found.name}（{code}）不在您的经办地区内")
    try:
        year = int(year)
    except (TypeError, ValueError):
        raise RosterFileError(f"待遇年度应为四位年份，收到 {_echo(str(year))}") from None
    try:
        spec = published_spec(code, year)
    except QuoteError as exc:
        raise RosterFileError(f"{exc.message}：资助名单按该年度政策核对，请先发布政策") from None
    return found, spec


def import_roster_table(table: Table, *, region: str, year: int, skip_invalid: bool = False,
                        dry_run: bool = False, actor=None, user=None, today: date | None = None,
                        filename: str = "", run=None,
                        progress: Callable[[str, int, int], None] | None = None) -> RosterResult:
    with cyclic_gc_paused():
        return _import_roster_table(table, region=region, year=year, skip_invalid=skip_invalid,
                                    dry_run=dry_run, actor=actor, user=user, today=today, filename=filename,
                                    run=run, progress=progress)


def _import_roster_table(table: Table, *, region: str, year: int, skip_invalid: bool, dry_run: bool, actor,
                         user, today: date | None, filename: str, run, progress) -> RosterResult:
    today = today or clock.today()
    place, spec = check_scope(region, year, user)
    year = int(year)
    if not table.rows:
        raise RosterFileError("名单只有表头，没有数据行；整份名单未导入（如需清空某部门名单，请联系管理员）")
    result = RosterResult(region=place.code, year=year, total_rows=len(table.rows), dry_run=dry_run)
    members = policy_members(place.policy_code)
    rows, errors = _check_rows(table, spec, year, today, progress, others=_other_places(place))
    _match(rows, errors, members)
    errors.sort(key=lambda e: (e.row, e.column))
    result.errors = errors
    report_errors(progress, errors, len(table.rows))
    if errors and not skip_invalid:
        result.rejected = True
        return result
    bad = {e.row for e in errors}
    rows = [r for r in rows if r.row not in bad]
    result.rows = rows
    result.departments = sorted({r.department for r in rows})
    with transaction.atomic(), audit_context(actor, action="import_roster"):
        # One roster import of a policy region and year at a time, and no pricing from its
        # identities meanwhile (subsidies.selectors.hold_identities).
        lock_identities(place.policy_code, year)
        on_file = _on_file(place.code, year, result.departments)
        # A file with skipped faulty rows is not the department's whole list: a person whose row
        # had a typo is not "no longer on it".  Nobody is removed; the report says so.
        complete = not errors
        removed = _difference(rows, on_file, result, remove=complete)
        plan = _plan(rows, removed, on_file, spec, place.code, year, members, today)
        refused = _refusals(rows, plan, year, result)
        if refused:
            if not skip_invalid:
                result.rejected = True
                return result
            rows = [r for r in rows if r.row not in refused]
            result.rows = rows
            _reset(result)
            complete = False
            removed = _difference(rows, on_file, result, remove=False)
            plan = _plan(rows, removed, on_file, spec, place.code, year, members, today)
            _refusals(rows, plan, year, result)  # the people left: priced before, priced now
        if not complete:
            result.warnings.append("名单中有被跳过的错误行，本次不移出原名单中的任何人员；请修正后重新导入完整名单")
        result.repriced = len(plan.repriced)
        result.refunds_owed = sum(1 for o in plan.owed if o.amount > 0)
        if progress:
            progress("检查", len(table.rows), len(table.rows))
        if not dry_run:
            _write(result, rows, removed, on_file, plan, place.code, year, actor, filename, run)
            if progress:
                progress("写入", len(rows), len(rows))
    return result


def _refusals(rows: list[RosterRow], plan: Plan, year: int, result: RosterResult) -> set[int]:
    """Rows whose new identity leaves an unpaid enrollment that cannot be priced: faulty
    rows (the figure it needs is not in source, say).  A person who only loses an identity
    keeps their list as it was; that is said in the report."""
    bad = set()
    if not plan.refused:
        return bad
    for r in rows:
        message = plan.refused.get(r.id_number)
        if message is not None and r.change != "unchanged":
            bad.add(r.row)
            result.errors.append(RowError(r.row, "困难类别", f"该人员 {year} 年度的未缴费登记不能按此身份"
                                                         f"重新核定：{message}"))
    result.errors.sort(key=lambda e: (e.row, e.column))
    noted = {r.id_number for r in rows if r.row in bad}
    for number, message in sorted(plan.refused.items()):
        if number not in noted:
            result.warnings.append(f"{number[:6]}…{number[-4:]}：移出身份后 {year} 年度的未缴费登记不能重新核定"
                                   f"（{message}），应缴金额未变，请核实后更正或注销该登记")
    return bad


def _reset(result: RosterResult) -> None:
    result.new = result.updated = result.unchanged = result.removed = result.pending = 0
    result.warnings.clear()


# --- checking --------------------------------------------------------------------------


def _check_rows(table: Table, spec: PolicySpec, year: int, today: date, progress, others=()):
    errors: list[RowError] = cell_errors(table)
    rows: list[RosterRow] = []
    seen: dict[tuple, int] = {}
    allowed = set(spec.tiers_by_identity) | {g.code for g in spec.special_groups if g.code in IDENTITIES}
    # A roster repeats a handful of identity, department and date texts: each distinct three
    # (the department and the date are checked against the identity) is read once, its
    # answers and reasons reused.

    def classify(values, found, row):
        identity = _identity(values, found, row, spec, allowed)
        department, department_name = _department(values, found, row, spec, identity, others)
        on = _certified_on(values, found, row, spec, identity, year, today)
        return identity, department, department_name, on, _assessed_on(values, found, row, spec, identity, on,
                                                                      today)

    classified = _Memo(classify, ("困难类别", "认定部门", "认定日期", ASSESSED))
    for i, (row, values) in enumerate(table.rows, 1):
        if progress and i % 10000 == 0:
            progress("检查", i, len(table.rows))
        row_errors: list[RowError] = []
        name = check_name(values, row_errors, row)
        number = _id_number(values, row_errors, row, today)
        identity, department, department_name, certified_on, assessed_on = classified(values, row_errors, row)
        if number is not None and identity and department:
            key = (number, department, identity)
            if key in seen:
                row_errors.append(RowError(row, "身份证号码", f"与第 {seen[key]} 行重复（同一人同一困难类别）"))
            else:
                seen[key] = row
        errors.extend(row_errors)
        if not row_errors:
            rows.append(RosterRow(row, number, name, identity, department, department_name,
                                  certified_on, assessed_on))
    return rows, errors


_PLAIN_ID = re.compile(r"[0-9]{17}[0-9X]")


def _id_number(values, errors, row, today: date) -> str | None:
    """The ID number of a row, as ``check_id`` reads it (its errors when it is faulty).

    A number written plainly (18 ASCII characters, upper-case X) that passes the check
    digit and holds a real, plausible birth date is taken as it is — ``check_id``'s
    answer for it, without its normalisation, its answer object or its address-code
    warning (which a roster does not use).  Anything else goes to ``check_id`` itself, so
    every message is its own (subsidies/tests/test_roster_ids.py compares the two)."""
    raw = values.get("身份证号码", "")
    if _PLAIN_ID.fullmatch(raw) and ric.calc_check_digit(raw) == raw[17]:
        try:
            born = date(int(raw[6:10]), int(raw[10:12]), int(raw[12:14]))
        except ValueError:
            born = None
        if born is not None and born.year >= 1880 and born <= today:
            return raw
    ident = check_id(values, errors, row, today)
    return None if ident is None else ident.number


class _Memo:
    """A row check that depends only on some cells answered once per distinct input: the
    answer and the reasons it gave, the reasons given again with each row."""

    def __init__(self, check, columns: tuple[str, ...]):
        self.check, self.columns, self.blanks, self.answers = check, columns, ("",) * len(columns), {}

    def __call__(self, values, errors, row):
        key = tuple(map(values.get, self.columns, self.blanks))
        answer = self.answers.get(key)
        if answer is None:
            found: list[RowError] = []
            value = self.check(values, found, row)
            answer = self.answers[key] = (value, tuple((e.column, e.reason) for e in found))
        value, reasons = answer
        if reasons:
            errors.extend(RowError(row, column, reason) for column, reason in reasons)
        return value


def _identity(values, errors, row, spec: PolicySpec, allowed) -> str:
    text = plain(values.get("困难类别", ""))
    if not text:
        errors.append(RowError(row, "困难类别", "不能为空"))
        return ""
    code = identity_code(text)
    if code is None:
        errors.append(RowError(row, "困难类别", f"无法识别的困难类别 {_echo(text)}"))
        return ""
    if code not in allowed:
        errors.append(RowError(row, "困难类别", f"{spec.region_name} {spec.year} 年度政策没有"
                                             f"“{IDENTITIES[code]}”的资助或参保规定"))
        return ""
    return code


def _other_places(region: Region) -> list[tuple[str, Region]]:
    """(name stem, region) of every other region: "孝义" for 孝义市, "吕梁" for 吕梁市."""
    out = []
    for r in Region.objects.exclude(code=region.code):
        stem = re.sub(r"(自治州|自治县|地区|市|县|区)$", "", r.name)
        if len(stem) >= 2:
            out.append((stem, r))
    return out


def _department(values, errors, row, spec: PolicySpec, identity: str, others=()) -> tuple[str, str]:
    text = plain(values.get("认定部门", ""))
    if not text:
        errors.append(RowError(row, "认定部门", "不能为空"))
        return "", ""
    # A county's bureau sends its own roster (孝义市民政局 → --region 141181): under the city's
    # code it would replace the city bureau's list, whose department is the same.
    for stem, place in others:
        if stem in text:
            errors.append(RowError(row, "认定部门", f"{_echo(text)} 是{place.name}的部门，其名单应以地区 "
                                                 f"{place.code}（{place.name}）导入"))
            return "", ""
    code = department_code(text)
    if code is None:
        errors.append(RowError(row, "认定部门", f"无法识别的认定部门 {_echo(text)}，"
                                             f"应为{known_departments_text()}之一"))
        return "", ""
    tier = spec.tiers_by_identity.get(identity)
    if tier is not None and tier.certifying_department:
        wanted = department_code(tier.certifying_department)
        if wanted is not None and wanted != code:
            errors.append(RowError(row, "认定部门", f"“{IDENTITIES[identity]}”由{DEPARTMENTS[wanted]}认定"
                                                 f"（{spec.region_name}政策），收到 {_echo(text)}"))
            return "", ""
    return code, text[:100]


_CN_DATE = re.compile(r"(\d{4})年(\d{1,2})月(\d{1,2})日?")


def parse_day(text: str) -> date:
    """2025-06-30, 2025/6/30, 2025.6.30, 2025年6月30日, 20250630 (ValueError otherwise)."""
    m = (re.fullmatch(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})", text) or _CN_DATE.fullmatch(text)
         or re.fullmatch(r"(\d{4})(\d{2})(\d{2})", text))
    if m is None:
        raise ValueError(text)
    return date(*map(int, m.groups()))


def _certified_on(values, errors, row, spec: PolicySpec, identity: str, year: int, today: date):
    text = plain(values.get("认定日期", ""))
    if text.endswith(" 00:00:00"):
        text = text[:-9]
    if not text:
        errors.append(RowError(row, "认定日期", "不能为空"))
        return None
    try:
        on = parse_day(text)
    except ValueError:
        errors.append(RowError(row, "认定日期", f"应为 YYYY-MM-DD 日期，收到 {_echo(text)}"))
        return None
    latest = min(today, date(year, 12, 31))
    if not EARLIEST_CERTIFIED <= on <= latest:
        errors.append(RowError(row, "认定日期", f"应在 {EARLIEST_CERTIFIED.isoformat()} 至 "
                                             f"{latest.isoformat()} 之间（不能晚于今天或待遇年度末），收到 {text}"))
        return None
    tier = spec.tiers_by_identity.get(identity)
    if tier is not None and tier.certified_by is not None and on > tier.certified_by:
        errors.append(RowError(row, "认定日期", f"“{IDENTITIES[identity]}”须在 {tier.certified_by.isoformat()} "
                                             f"前取得认定（持证），认定日期为 {on.isoformat()}，"
                                             f"不能享受 {year} 年度资助"))
        return None
    return on


ASSESSED = ROSTER_OPTIONAL[0]
DISABILITY = ("disabled_certified", "disabled_severe")


def _assessed_on(values, errors, row, spec: PolicySpec, identity: str, certified_on, today: date):
    """The optional 评定日期 of a disability identity: a certificate new in the year of its tier's
    ``assessed_by`` counts only if assessed on or before it (003 §二(五)) — a later one is a
    row error, as a certificate held after ``certified_by`` is."""
    text = plain(values.get(ASSESSED, "") or "")
    if text.endswith(" 00:00:00"):
        text = text[:-9]
    if not text:
        return None
    if identity and identity not in DISABILITY:
        errors.append(RowError(row, ASSESSED, "仅持证残疾人填写评定日期，其他困难类别请留空"))
        return None
    try:
        on = parse_day(text)
    except ValueError:
        errors.append(RowError(row, ASSESSED, f"应为 YYYY-MM-DD 日期，收到 {_echo(text)}"))
        return None
    if not EARLIEST_CERTIFIED <= on <= today:
        errors.append(RowError(row, ASSESSED, f"应在 {EARLIEST_CERTIFIED.isoformat()} 至 {today.isoformat()} "
                                             f"之间（不能晚于今天），收到 {text}"))
        return None
    tier = spec.tiers_by_identity.get(identity)
    by = tier.assessed_by if tier is not None else None
    if by is not None and certified_on is not None and certified_on.year == by.year and on > by:
        errors.append(RowError(row, ASSESSED, f"{by.year} 年新办残疾人证须在 {by.isoformat()} 前完成残疾评定，"
                                             f"评定日期为 {on.isoformat()}，不能享受资助"))
        return None
    return on


READ_CHUNK = 20000


def _match(rows: list[RosterRow], errors: list[RowError], members: list[str]) -> None:
    """Matched: a resident of the identity's policy region holds the number.  A name
    that differs is a faulty row (the number is likely wrong); the stored name is not
    shown.  A resident of another policy region is not looked at: the roster does not
    count there, and nothing of that region is told."""
    for start in range(0, len(rows), READ_CHUNK):
        chunk = rows[start:start + READ_CHUNK]
        names = resident_names((r.id_number for r in chunk), members)
        for r in chunk:
            if r.id_number not in names:
                continue
            r.matched = True
            held = names[r.id_number]
            if held != r.name and _same_name(held) != _same_name(r.name):
                errors.append(RowError(r.row, "姓名", "与参保登记的姓名不一致，请核对姓名和身份证号码"))


def _same_name(name: str) -> str:
    return re.sub(r"[\s·•.]", "", name)


# --- the difference with the list on file ------------------------------------------------


def _on_file(region: str, year: int, departments: list[str]) -> dict[tuple, OnFile]:
    if not departments:
        return {}
    out = {}
    for pk, number, name, dept, code, on, assessed, removed in AssistanceIdentity.objects.filter(
            region_id=region, year=year, department__in=departments).values_list(
            "pk", "id_number", "name", "department", "identity", "certified_on", "assessed_on",
            "removed_at").iterator(chunk_size=20000):
        out[(number, dept, code)] = OnFile(pk, number, name, dept, code, on, removed is None, assessed)
    return out


def _difference(rows: list[RosterRow], on_file: dict, result: RosterResult, *, remove: bool = True
                ) -> list[OnFile]:
    keys = set()
    for r in rows:
        keys.add(r.key)
        old = on_file.get(r.key)
        if old is None or not old.active:
            r.change = "new"
            result.new += 1
        elif (old.certified_on, old.assessed_on, old.name) != (r.certified_on, r.assessed_on, r.name):
            r.change = "updated"
            result.updated += 1
        else:
            r.change = "unchanged"
            result.unchanged += 1
        if not r.matched:
            result.pending += 1
    removed = [o for key, o in on_file.items() if o.active and key not in keys] if remove else []
    removed.sort(key=lambda o: (o.id_number, o.department, o.identity))
    result.removed = len(removed)
    result.removed_rows = removed
    return removed


# --- what changes for the people -------------------------------------------------------


@dataclass
class Plan:
    repriced: list[Repriced] = field(default_factory=list)
    owed: list[OwedChange] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)  # ID number -> why an unpaid one cannot be priced


def _plan(rows: list[RosterRow], removed: list[OnFile], on_file: dict, spec: PolicySpec, region: str,
          year: int, members: list[str], today: date) -> Plan:
    """New prices of unpaid enrollments and refunds owed on paid ones, for the people
    whose identities change — their identities as they will be after the import."""
    plan = Plan()
    gained: dict[str, list[Identity]] = {}
    lost: dict[str, list[Identity]] = {}
    for r in rows:
        if r.change == "unchanged":
            continue
        gained.setdefault(r.id_number, []).append(Identity(r.identity, r.certified_on, r.assessed_on))
        old = on_file.get(r.key)
        if old is not None and old.active:
            lost.setdefault(r.id_number, []).append(Identity(old.identity, old.certified_on, old.assessed_on))
    for o in removed:
        lost.setdefault(o.id_number, []).append(Identity(o.identity, o.certified_on, o.assessed_on))
    people = sorted(set(gained) | set(lost))
    if not people:
        return plan
    memo = ClassQuoteMemo(spec)
    on = registration_date(spec, today)
    window_end = max((p.ends_on for p in spec.periods if p.kind == "window" and p.ends_on), default=None)
    owing = spec.assistance_refund_in_window and window_end is not None
    for start in range(0, len(people), READ_CHUNK):
        enrolled = live_enrollments_of(people[start:start + READ_CHUNK], year, members)
        unpaid, paid = [], []
        for row in enrolled:
            (unpaid if row[1] == "registered" else paid).append(row)
        if not owing:
            paid = []
        # One read of the facts for both: an unpaid enrollment priced on the registration
        # date, a paid one on the day it was paid (a person holds one live enrollment a year).
        facts = [_facts(r) for r in unpaid + paid]
        priced_on = {f.id_number: on for f in facts[:len(unpaid)]}
        priced_on.update((f.id_number, r[4]) for r, f in zip(paid, facts[len(unpaid):]))
        requests = quote_requests_for(facts, year, lambda f: priced_on[f.id_number]) if facts else {}
        _reprice(unpaid, facts[:len(unpaid)], requests, spec, gained, lost, memo, plan)
        if owing:
            _owed(paid, facts[len(unpaid):], requests, spec, window_end, gained, lost, memo, plan)
    return plan


def _facts(row) -> PersonFacts:
    return PersonFacts(id_number=row[12], birth_date=row[14], hukou=row[15], residence_permit=row[16],
                       residence_permit_expires_on=row[17], student=row[18] or "", region_id=row[2],
                       resident_id=row[11], via_parent_permit=row[3])


def _identity_order(i: Identity):
    return (i.code, i.certified_on or date.min)


def _after(current: tuple[Identity, ...], gained: list[Identity], lost: list[Identity]) -> tuple:
    """The identities as they will be: those on file, less the ones this roster replaces."""
    if not current and not lost:  # most people of a first import: nothing on file
        return tuple(gained) if len(gained) < 2 else tuple(sorted(gained, key=_identity_order))
    left = Counter((i.code, i.certified_on, i.assessed_on) for i in current)
    left.subtract((i.code, i.certified_on, i.assessed_on) for i in lost)
    out = [Identity(code, on, assessed)
           for (code, on, assessed), n in sorted(left.items(), key=lambda kv: (kv[0][0], kv[0][1] or date.min,
                                                                             kv[0][2] or date.min))
           for _ in range(max(n, 0))]
    return tuple(sorted(out + gained, key=_identity_order))


def _reprice(unpaid, facts, requests, spec, gained, lost, memo, plan: Plan) -> None:
    no_change: list[Identity] = []
    for row, f in zip(unpaid, facts):
        req = requests[f.id_number]
        after = _after(req.identities, gained.get(f.id_number, no_change), lost.get(f.id_number, no_change))
        try:
            result = memo.quote(spec, req, after)
        except QuoteError as exc:
            plan.refused.setdefault(f.id_number, exc.message)
            continue
        update = Repriced.of(row[0], row[2], result, via_parent_permit=req.person.parent_insured_locally)
        if (update.amount_due, update.assistance_identity, update.assistance_amount, update.timing) != (
                row[6], row[7], row[8], row[9]):
            plan.repriced.append(update)


def _owed(paid, facts, requests, spec, window_end: date, gained, lost, memo, plan: Plan) -> None:
    """Dynamic adjustment: the assistance part of a paid contribution is owed back when
    an identity certified by the end of the window would have lowered what was paid."""
    no_change: list[Identity] = []
    zero = Decimal("0.00")
    for row, f in zip(paid, facts):
        req = requests[f.id_number]
        after = _after(req.identities, gained.get(f.id_number, no_change), lost.get(f.id_number, no_change))
        # Certified by the end of the window counts as held when paying; later does not.
        held = tuple(Identity(i.code, min(i.certified_on, req.paid_on) if i.certified_on else None, i.assessed_on)
                     for i in after if i.certified_on is None or i.certified_on <= window_end)
        paid_amount = row[5]
        try:
            result = memo.quote(spec, req, held)
        except QuoteError:
            continue
        owed = paid_amount - result.amount_due if result.assistance is not None else zero
        owed = max(owed, zero)
        plan.owed.append(OwedChange(row[0], f.id_number, row[13], row[2],
                                    result.assistance.identity if result.assistance else "",
                                    paid_amount, result.amount_due, owed))


# --- writing ---------------------------------------------------------------------------


def _write(result: RosterResult, rows, removed, on_file: dict, plan: Plan, region: str, year: int, actor,
           filename, run) -> None:
    now = timezone.now()
    user = acting_user(actor)
    rosters: dict[str, RosterImport] = {}
    names = {}
    for r in rows:
        names.setdefault(r.department, r.department_name)
    for dept in sorted(set(result.departments) | {o.department for o in removed}):
        mine = [r for r in rows if r.department == dept]
        gone = [o for o in removed if o.department == dept]
        rosters[dept] = RosterImport.objects.create(
            region_id=region, year=year, department=dept, department_name=names.get(dept, ""),
            file_name=(filename or "")[:200], run=run, imported_at=now, imported_by=user,
            actor="" if user is not None else str(actor or "")[:200], rows=len(mine),
            new=sum(1 for r in mine if r.change == "new"),
            updated=sum(1 for r in mine if r.change == "updated"),
            unchanged=sum(1 for r in mine if r.change == "unchanged"),
            removed=len(gone), pending=sum(1 for r in mine if not r.matched))
    result.rosters = [r.pk for r in rosters.values()]
    roster_of = {dept: roster.pk for dept, roster in rosters.items()}
    changed = [r for r in rows if r.change != "unchanged"]
    with connection.cursor() as cur:
        _write_identities(cur, changed, on_file, roster_of, region, year, (filename or "")[:200], now)
        for dept, roster in rosters.items():
            ids = [o.pk for o in removed if o.department == dept]
            if ids:
                cur.execute("UPDATE subsidies_assistanceidentity SET removed_at = %s, removed_by_id = %s "
                            "WHERE id = ANY(%s) AND removed_at IS NULL", [now, roster.pk, sorted(ids)])
        # The difference report: the new and changed from the scratch table (in file order), the
        # removed by COPY — 100,000 model instances through bulk_create took seconds of Python.
        cur.execute(f"INSERT INTO {RosterChange._meta.db_table} (roster_id, id_number, name, identity, change, "
                    "certified_on) SELECT roster_id, id_number, name, identity, change, certified_on "
                    "FROM roster_stage ORDER BY n")
        cur.execute("DROP TABLE pg_temp.roster_stage")
        if removed:
            with cur.copy(f"COPY {RosterChange._meta.db_table} (roster_id, id_number, name, identity, change, "
                          "certified_on) FROM STDIN") as copy:
                for o in removed:
                    copy.write_row((roster_of[o.department], o.id_number, o.name, o.identity,
                                    RosterChange.Change.REMOVED.value, o.certified_on))
    if plan.repriced:
        enrollments_reprice(plan.repriced, actor=actor, action="import_roster", now=now)
    first = next(iter(rosters.values()), None)
    _write_owed(plan.owed, first, now)
    if first is not None:
        RosterImport.objects.filter(pk=first.pk).update(
            repriced=len(plan.repriced), refunds_owed=sum(1 for o in plan.owed if o.amount > 0))


_INSERT_IDENTITIES = """
INSERT INTO subsidies_assistanceidentity (id_number, name, region_id, year, identity, department,
    certified_on, assessed_on, source, roster_id, removed_at, removed_by_id, created_at)
SELECT id_number, name, %(region)s, %(year)s, identity, department, certified_on, assessed_on, %(file)s, roster_id,
       NULL, NULL, %(now)s
FROM roster_stage WHERE pk IS NULL ORDER BY id_number, department, identity  -- key order"""
_UPDATE_IDENTITIES = """
WITH locked AS (
  SELECT a.id FROM subsidies_assistanceidentity a JOIN roster_stage s ON s.pk = a.id ORDER BY a.id FOR UPDATE OF a
)
UPDATE subsidies_assistanceidentity a SET name = s.name, certified_on = s.certified_on,
  assessed_on = s.assessed_on, source = %(file)s,
  roster_id = s.roster_id, removed_at = NULL, removed_by_id = NULL
FROM roster_stage s JOIN locked l ON l.id = s.pk WHERE a.id = s.pk"""


def _write_identities(cur, changed: list[RosterRow], on_file: dict, roster_of: dict[str, int], region: str,
                      year: int, file: str, now) -> None:
    """The new and changed identities: COPY into a scratch table (``roster_stage``, kept for
    the difference report), then a plain INSERT (in key order) of the keys not on file and
    an UPDATE of the rows on file (changed, or back after a removal).  ``on_file`` holds
    every row of the region, year and departments, read under the exclusive lock of
    ``lock_identities`` (the roster import is the one writer of identities), so a key not
    in it has no row: the upsert's conflict probe (an ``ON CONFLICT`` insert) would find
    nothing, at a fifth more of the insert's cost."""
    cur.execute("CREATE TEMP TABLE roster_stage (n int, pk bigint, id_number varchar(18), name varchar(50), "
                "department varchar(30), identity varchar(40), certified_on date, roster_id bigint, "
                "change varchar(10), assessed_on date) ON COMMIT DROP")
    known = 0
    with cur.copy("COPY roster_stage FROM STDIN") as copy:
        for n, r in enumerate(changed):
            old = on_file.get(r.key)
            known += old is not None
            copy.write_row((n, old.pk if old is not None else None, r.id_number, r.name, r.department, r.identity,
                            r.certified_on, roster_of[r.department], r.change, r.assessed_on))
    params = {"region": region, "year": year, "file": file, "now": now}
    if known < len(changed):
        cur.execute(_INSERT_IDENTITIES, params)
    if known:
        cur.execute(_UPDATE_IDENTITIES, params)


_OWED_NOTE = "集中缴费期内新认定，已缴费，退还资助部分（003 §二）"
_LOCK_OWED = f"""
SELECT o.enrollment_id FROM {OwedRefund._meta.db_table} o
WHERE o.enrollment_id IN (SELECT unnest(string_to_array(%s, ','))::bigint)
ORDER BY o.enrollment_id FOR UPDATE"""
_OWED_COLUMNS = ("enrollment_id", "id_number", "name", "region_id", "year", "identity", "paid_amount",
                 "due_with_assistance", "amount", "status", "roster_id", "created_at", "updated_at", "note")


def _write_owed(owed: list[OwedChange], roster: RosterImport | None, now) -> None:
    if not owed:
        return
    ids = sorted(o.enrollment_id for o in owed)
    locked: list[int] = []
    with connection.cursor() as cur:
        for start in range(0, len(ids), READ_CHUNK):  # locked in id order, a chunk at a time
            cur.execute(_LOCK_OWED, [joined(ids[start:start + READ_CHUNK])])
            locked += [i for (i,) in cur.fetchall()]
    existing = {}
    for start in range(0, len(locked), READ_CHUNK):  # (already locked) the few on file
        existing.update((o.enrollment_id, o) for o in OwedRefund.objects.filter(
            enrollment_id__in=locked[start:start + READ_CHUNK]))
    created, changed, cancelled = [], [], []
    for o in owed:
        have = existing.get(o.enrollment_id)
        if have is None:
            if o.amount > 0:
                created.append(o)
            continue
        if have.status != OwedRefund.Status.OWED:
            continue  # paid out (or withdrawn) already: the record stands
        if o.amount > 0 and (o.amount, o.identity) != (have.amount, have.identity):
            have.amount, have.identity, have.due_with_assistance = o.amount, o.identity, o.due_with_assistance
            changed.append(have)
        elif o.amount == 0:
            have.status = OwedRefund.Status.CANCELLED
            have.note = "资助身份已被认定部门移出，撤销应退"
            cancelled.append(have)
    stamp = timezone.now()
    _insert_owed(created, roster, now, stamp)
    # One statement per batch instead of one per refund (auto_now is set here: bulk_update skips it).
    for have in changed + cancelled:
        have.updated_at = stamp
    OwedRefund.objects.bulk_update(changed, ["amount", "identity", "due_with_assistance", "updated_at"],
                                   batch_size=2000)
    OwedRefund.objects.bulk_update(cancelled, ["status", "note", "updated_at"], batch_size=2000)


def _insert_owed(created: list[OwedChange], roster: RosterImport | None, now, stamp) -> None:
    """The new refunds by COPY into a scratch table, then one INSERT in enrollment order (the
    statement-level audit records them as one event set): 26,000 model instances through
    bulk_create cost seconds of Python (bench/RESULTS.md)."""
    if not created:
        return
    year, roster_id = (roster.year, roster.pk) if roster is not None else (0, None)
    cols = ", ".join(_OWED_COLUMNS)
    with connection.cursor() as cur:
        cur.execute("CREATE TEMP TABLE owed_stage (enrollment_id bigint, id_number varchar(18), name varchar(50), "
                    "region_id varchar(6), year smallint, identity varchar(40), paid_amount numeric(14, 2), "
                    "due_with_assistance numeric(14, 2), amount numeric(14, 2), status varchar(10), "
                    "roster_id bigint, created_at timestamptz, updated_at timestamptz, note varchar(200)) "
                    "ON COMMIT DROP")
        with cur.copy(f"COPY owed_stage ({cols}) FROM STDIN") as copy:
            for o in created:
                copy.write_row((o.enrollment_id, o.id_number, o.name, o.region_id, year, o.identity,
                                o.paid_amount, o.due_with_assistance, o.amount, OwedRefund.Status.OWED.value,
                                roster_id, now, stamp, _OWED_NOTE))
        cur.execute(f"INSERT INTO {OwedRefund._meta.db_table} ({cols}) SELECT {cols} FROM owed_stage "
                    "ORDER BY enrollment_id")
        cur.execute("DROP TABLE pg_temp.owed_stage")
