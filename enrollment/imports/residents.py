"""Import of residents (姓名, 身份证号码, 户籍, 居住证, 学生类别, 参保地[, 参保年度]): reading
and checking.  Nothing here writes; ``residents_write`` does, in one transaction.

The facts the rules see are those the database will hold after the write,
gathered by the same batch selector as every other path
(``enrollment.selectors.quote_requests_for``):

- 居住证=有 says the person holds a permit, but a file carries no expiry.  A
  stored expiry is kept (the upsert keeps it while the permit is held), and the
  rules read it: a permit stored as expired on the registration date is
  expired, whatever the file claims, exactly as for ``enrollment_register``.
  Such a row is refused on 居住证 with the stored date; the caseworker records
  the renewed permit's expiry on the resident first.  (Taking 有 as a fresh,
  open-ended permit would let a file silently extend a permit the bureau
  knows has lapsed.)  居住证=无 clears the permit and its expiry.
- A changed person's unpaid enrollments are priced again, and moved with the
  person to a new region, by the plan ``resident_update`` follows
  (``enrollment.pricing.plan_repricing``); a row whose unpaid enrollment
  cannot be priced is refused with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Callable

from django.db import connection

from core import clock
from policy.models import Region
from policy.rules import QuoteError

from ..models import Enrollment, EnrollmentStatus, Resident
from ..pricing import QuoteMemo, SpecCache, plan_repricing, registration_date
from ..selectors import PersonFacts, joined, permit_valid, quote_requests_for
from ..spreadsheet import Table, plain
from .common import (
    CHUNK,
    HELD_ELSEWHERE,
    RowError,
    check_id,
    check_name,
    check_region,
    check_year,
    cell_errors,
    echo,
    user_codes,
)

RESIDENT_REQUIRED = ["姓名", "身份证号码", "户籍", "居住证", "学生类别", "参保地"]
RESIDENT_OPTIONAL = ["参保年度", "登记方式"]
# 登记方式 of a registration (with 参保年度): how the person was registered — the family pool's
# cancellation deadline depends on it (a school-registered child: 12-20 17:00; one registered
# at a community centre or a bureau's counter: the day of registration).  Blank: the import's
# own (community by default).  "社区/经办窗口" is this system's former single label of both
# (files exported before counter had a value of its own): read as before, community.
REGISTERED_VIA = {"学校": "school", "学校集中登记": "school", "学校代办": "school", "school": "school",
                  "社区": "community", "社区登记": "community", "社区/经办窗口": "community",
                  "村委会": "community", "community": "community",
                  "经办窗口": "counter", "窗口": "counter", "柜台": "counter", "医保经办窗口": "counter",
                  "counter": "counter",
                  "网上": "online", "网上办理": "online", "线上": "online", "手机": "online", "online": "online"}

HUKOU = {"本地": "local", "本市": "local", "local": "local",
         "外地": "nonlocal", "非本市": "nonlocal", "nonlocal": "nonlocal"}
PERMIT = {"有": True, "是": True, "无": False, "否": False, "": False}
STUDENT = {"": "", "中小学生": "primary_secondary", "大学生": "college", "无": "",
           "primary_secondary": "primary_secondary", "college": "college"}

# The columns a change of which prices unpaid enrollments again, as the file names them.
_RULE_COLUMNS = (("region_id", "参保地"), ("hukou", "户籍"), ("residence_permit", "居住证"),
                 ("student", "学生类别"))


@dataclass
class ParsedResident:
    row: int
    id_number: str
    name: str
    birth_date: date
    sex: str
    region_id: str
    hukou: str
    residence_permit: bool
    student: str
    year: int | None
    registered_via: str = ""  # 登记方式 of the row ("" = the import's)
    action: str = "new"  # new / update / unchanged
    existing_region: str = ""  # the region of the person already on file
    resident_id: int | None = None
    stored_expiry: date | None = None  # residence_permit_expires_on on file
    rule_change: str = ""  # the first changed column the rules read ("" = none)
    register: str = ""  # "" / "new" / "already"
    quote: object = None
    repriced: list = field(default_factory=list)  # enrollment.writer.Repriced

    def facts(self) -> PersonFacts:
        """The person as the database will hold them after the import."""
        return PersonFacts(id_number=self.id_number, birth_date=self.birth_date, hukou=self.hukou,
                           residence_permit=self.residence_permit,
                           residence_permit_expires_on=self.stored_expiry if self.residence_permit else None,
                           student=self.student, region_id=self.region_id, resident_id=self.resident_id)


def _check_row(row: int, values: dict, today: date, regions: dict, codes, seen: dict):
    """(ParsedResident or None, this row's errors)."""
    errors: list[RowError] = []
    name = check_name(values, errors, row)
    ident = check_id(values, errors, row, today)
    hukou = HUKOU.get(plain(values.get("户籍", "")))
    if hukou is None:
        errors.append(RowError(row, "户籍", f"应为“本地”或“外地”，收到 {echo(plain(values.get('户籍', '')))}"))
    permit = PERMIT.get(plain(values.get("居住证", "")))
    if permit is None:
        errors.append(RowError(row, "居住证", f"应为“有”或“无”，收到 {echo(plain(values.get('居住证', '')))}"))
    elif permit and hukou == "local":
        errors.append(RowError(row, "居住证", "本地户籍人员不登记居住证"))
    student = STUDENT.get(plain(values.get("学生类别", "")))
    if student is None:
        errors.append(RowError(row, "学生类别",
                               f"应为“中小学生”“大学生”或空，收到 {echo(plain(values.get('学生类别', '')))}"))
    region = check_region(values, errors, row, regions, codes)
    year = check_year(values, errors, row)
    via_text = plain(values.get("登记方式", ""))
    via = REGISTERED_VIA.get(via_text) if via_text else ""
    if via is None:
        errors.append(RowError(row, "登记方式", f"应为“学校”“社区”“经办窗口”或“网上”，收到 {echo(via_text)}"))
    if ident is not None:
        if ident.number in seen:
            errors.append(RowError(row, "身份证号码", f"与第 {seen[ident.number]} 行重复"))
        else:
            seen[ident.number] = row
    if errors:
        return None, errors
    return ParsedResident(row=row, id_number=ident.number, name=name, birth_date=ident.birth_date,
                          sex=ident.sex, region_id=region, hukou=hukou, residence_permit=permit,
                          student=student, year=year, registered_via=via), errors


def parse_residents(table: Table, *, user=None, today: date | None = None,
                    progress: Callable[[int, int], None] | None = None) -> tuple[list, list]:
    """(parsed rows, errors): every row checked; nothing written."""
    today = today or clock.today()
    regions = {r.code: r for r in Region.objects.all()}
    codes = user_codes(user)
    parsed: list[ParsedResident] = []
    errors: list[RowError] = cell_errors(table)
    seen: dict[str, int] = {}
    for row, values in table.rows:
        p, row_errors = _check_row(row, values, today, regions, codes, seen)
        errors.extend(row_errors)
        if p is not None:
            parsed.append(p)
    _compare_with_database(parsed)
    if codes is not None:  # a caseworker may not take over (or change) another region's resident
        for p in parsed:
            if p.action != "new" and p.existing_region not in codes:
                errors.append(RowError(p.row, "身份证号码", HELD_ELSEWHERE))
    parsed = _without(parsed, errors)
    specs = SpecCache()
    _reprice_changes(parsed, errors, today, specs)
    _price_registrations(_without(parsed, errors), errors, today, specs, progress)
    return _without(parsed, errors), sorted(errors, key=lambda e: (e.row, e.column))


def _without(parsed: list[ParsedResident], errors: list[RowError]) -> list[ParsedResident]:
    bad = {e.row for e in errors}
    return [p for p in parsed if p.row not in bad]


# Lists sent as one parameter and joined as tables: see enrollment.selectors.
_EXISTING_SQL = f"""
SELECT r.id_number, r.id, r.name, r.region_id, r.hukou, r.residence_permit, r.student,
       r.residence_permit_expires_on
FROM unnest(string_to_array(%s, ',')) AS t(n) JOIN {Resident._meta.db_table} r ON r.id_number = t.n
"""
_ENROLLED_SQL = f"""
SELECT e.resident_id, e.year FROM unnest(string_to_array(%s, ',')::bigint[]) AS t(id)
JOIN {Enrollment._meta.db_table} e ON e.resident_id = t.id
WHERE e.year = ANY(%s::int[]) AND e.status <> %s
"""
READ_CHUNK = 20000  # ID numbers per read (one array parameter each; see selectors)
PRICE_CHUNK = 10000  # people per call of the facts gatherer (six reads each)


def _rows(sql: str, params: list) -> list[tuple]:
    with connection.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall()


def _compare_with_database(parsed: list[ParsedResident]) -> None:
    for start in range(0, len(parsed), READ_CHUNK):
        chunk = parsed[start:start + READ_CHUNK]
        existing = {r[0]: r[1:] for r in _rows(_EXISTING_SQL, [joined([p.id_number for p in chunk])])}
        for p in chunk:
            old = existing.get(p.id_number)
            if old is None:
                p.action = "new"
                continue
            p.resident_id, name, p.existing_region, hukou, permit, student, p.stored_expiry = old
            before = {"region_id": p.existing_region, "hukou": hukou, "residence_permit": permit,
                      "student": student}
            p.rule_change = next((col for key, col in _RULE_COLUMNS if getattr(p, key) != before[key]), "")
            p.action = "unchanged" if (name, *before.values()) == (
                p.name, p.region_id, p.hukou, p.residence_permit, p.student) else "update"


def _reprice_changes(parsed: list[ParsedResident], errors: list[RowError], today: date,
                     specs: SpecCache) -> None:
    """Plan the new prices (and region) of changed people's unpaid enrollments."""
    changed = [p for p in parsed if p.rule_change]
    for start in range(0, len(changed), CHUNK):
        chunk = {p.id_number: p for p in changed[start:start + CHUNK]}
        plan = plan_repricing([p.facts() for p in chunk.values()], today=today, specs=specs)
        for number, refusal in plan.refused.items():
            errors.append(RowError(chunk[number].row, chunk[number].rule_change, refusal.message))
        for number, updates in plan.by_person.items():
            chunk[number].repriced = updates


def _price_registrations(parsed, errors, today, specs: SpecCache, progress) -> None:
    """Price every requested registration with the rules (errors per row)."""
    memo = QuoteMemo()
    wanted = [p for p in parsed if p.year is not None]
    done = 0
    for start in range(0, len(wanted), PRICE_CHUNK):
        chunk = wanted[start:start + PRICE_CHUNK]
        # Only a resident on file can hold an enrollment: the people new to the file are not asked.
        on_file = {p.resident_id: p.id_number for p in chunk if p.resident_id is not None}
        enrolled = {(on_file[rid], year) for rid, year in _rows(_ENROLLED_SQL, [
            joined(list(on_file)), sorted({p.year for p in chunk}), EnrollmentStatus.CANCELLED.value])
        } if on_file else set()
        for year in sorted({p.year for p in chunk}):
            _price_year([p for p in chunk if p.year == year], year, enrolled, errors, today, specs, memo)
        done += len(chunk)
        if progress:
            progress(done, len(wanted))


def _price_year(rows, year, enrolled, errors, today, specs: SpecCache, memo: QuoteMemo) -> None:
    from ..services import other_scheme_refusals  # services imports this package

    todo = []
    for p in rows:
        spec = specs.get(p.region_id, year)
        if isinstance(spec, QuoteError):
            errors.append(RowError(p.row, "参保年度", spec.message))
        elif (p.id_number, year) in enrolled:
            p.register = "already"
        else:
            todo.append(p)
    # One scheme at a time (as enrollment_register): a person on file whom another scheme holds
    # that year (咸阳 flexible employment) is refused with the same reason, one query per chunk.
    # Checked again under lock when the file is written (residents_write.OtherScheme).
    refused = other_scheme_refusals([p.resident_id for p in todo if p.resident_id is not None], year)
    if refused:
        for p in todo:
            if p.resident_id in refused:
                errors.append(RowError(p.row, "参保年度", f"不能登记 {year} 年度：{refused[p.resident_id]}"))
        todo = [p for p in todo if p.resident_id not in refused]
    paid_on = {p.id_number: registration_date(specs.get(p.region_id, year), today) for p in todo}
    requests = quote_requests_for([p.facts() for p in todo], year, lambda f: paid_on[f.id_number])
    for p in todo:
        req = requests[p.id_number]
        try:
            p.quote = memo.quote(specs.get(p.region_id, year), req)
            p.register = "new"
        except QuoteError as exc:
            errors.append(_refused_registration(p, req, exc))


def _refused_registration(p: ParsedResident, req, exc: QuoteError) -> RowError:
    facts = p.facts()
    if (exc.code == "not_eligible" and facts.residence_permit and not req.person.employee_insured
            and not permit_valid(facts, req.paid_on)):
        return RowError(p.row, "居住证",
                        f"系统登记的居住证有效期至 {facts.residence_permit_expires_on.isoformat()}，"
                        f"登记 {p.year} 年度时已过期，不能登记；居住证续签后请先更新其有效期再导入")
    return RowError(p.row, "参保年度", f"不能登记 {p.year} 年度：{exc.message}")
