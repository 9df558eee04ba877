"""Reads shared by the admin, the API, the services and the batch jobs.

Coverage history is read from the database and handed to the same pure rule
functions the quote uses (policy.rules.continuity), so the resident page, the
registration and the quote never disagree.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from types import SimpleNamespace

from django.db import connection

from core import prepared
from policy import selectors as policy_selectors
from policy.rules.continuity import cap_adjustment, continuity, continuity_waiting_months
from policy.rules.types import Person, PolicySpec, QuoteRequest
from subsidies import selectors as subsidies_selectors

from .leavers import reach_date
from .models import (EmployeeCoverage, Enrollment, EnrollmentStatus, GapRepair, Hukou, Resident, SchemeExit,
                     ZeroClaimYear)

_NO_POLICY = SimpleNamespace(continuity_from_year=2025)


def coverage_history(resident: Resident, *, before_year: int | None = None) -> dict[int, str]:
    """Year -> "resident" / "employee" for every covered year (paid enrollments and
    employee insurance); years not in the dict are break years."""
    history: dict[int, str] = {}
    enrollments = Enrollment.objects.filter(resident=resident, status=EnrollmentStatus.PAID)
    coverage = EmployeeCoverage.objects.filter(id_number=resident.id_number)
    if before_year is not None:
        enrollments = enrollments.filter(year__lt=before_year)
        coverage = coverage.filter(year__lt=before_year)
    for y in coverage.values_list("year", flat=True):
        history[y] = "employee"
    for y in enrollments.values_list("year", flat=True):
        history[y] = "resident"
    for y in ZeroClaimYear.objects.filter(resident=resident).values_list("year", flat=True):
        if history.get(y) == "resident":
            history[y] = "resident_zero_claim"
    return history


def repaired_years(resident: Resident) -> frozenset[int]:
    return frozenset(GapRepair.objects.filter(resident=resident).values_list("year", flat=True))


def permit_valid(resident, on: date) -> bool:
    """Holds a residence permit that has not expired on ``on`` (no stored expiry: valid)."""
    return bool(resident.residence_permit) and (
        resident.residence_permit_expires_on is None or resident.residence_permit_expires_on >= on)


# --- the facts for the rules, in batches ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PersonFacts:
    """What the rules need to know of a person that is kept on the resident row.

    Bulk paths build these from rows they already read (a staged file row,
    a renewal candidate); ``of`` builds one from a Resident.  ``region_id``
    is where the person enrolls (after a move: the new region).
    ``via_parent_permit`` asks for the non-local infant rule (registered on a
    parent's residence permit); it only applies without a valid own permit.
    """

    id_number: str
    birth_date: date
    hukou: str
    residence_permit: bool
    residence_permit_expires_on: date | None
    student: str
    region_id: str
    resident_id: int | None = None
    via_parent_permit: bool = False

    @classmethod
    def of(cls, resident: Resident, **changes) -> "PersonFacts":
        facts = cls(id_number=resident.id_number, birth_date=resident.birth_date, hukou=resident.hukou,
                    residence_permit=resident.residence_permit,
                    residence_permit_expires_on=resident.residence_permit_expires_on,
                    student=resident.student or "", region_id=resident.region_id, resident_id=resident.pk)
        return replace(facts, **changes) if changes else facts


@dataclass(frozen=True, slots=True)
class _Coverage:
    insured: bool  # employee-insured in the year asked for, not ended
    left: date | None  # latest day they left employee insurance (that year or the year before)
    exits: tuple[date, ...] = ()  # recorded leavings of another scheme from 1 Jan of the year before


_NOT_COVERED = _Coverage(False, None)


def quote_requests_for(people: Iterable[PersonFacts | Resident], year: int,
                       paid_on: date | Callable[[PersonFacts], date]) -> dict[str, QuoteRequest]:
    """The QuoteRequest of each person for ``year``, keyed by ID number.

    The one way the facts for the rules are gathered — registration, payment,
    resident changes, imports and renewal all come here; one person is a batch
    of one (``quote_request_of``: the same answer in fewer round trips).  Five
    queries whatever the number of people (call it in chunks of a few thousand),
    the regions' policy regions from policy's per-process map (one more when it
    is loaded); inside a transaction one more first takes the shared lock on the
    identities of the policy regions and year (``subsidies.selectors.hold_identities``):

    - permit: valid when held and not expired on the payment date;
    - employee insurance: insured in ``year`` and not ended → not eligible;
      the latest ``ended_on`` of ``year - 1`` or ``year`` is the day they left;
    - history: years before ``year`` paid here ("resident") or in employee
      insurance ("employee"); a paid enrollment wins;
    - repaired years: every GapRepair of the person;
    - identities: certified for ``year`` under the person's policy region
      (subsidies.selectors.identities_for_many).

    ``paid_on`` is one date or a function of the person (each region prices
    registrations on its own payment days).
    """
    facts = [p if isinstance(p, PersonFacts) else PersonFacts.of(p) for p in people]
    if not facts:
        return {}
    numbers = sorted({p.id_number for p in facts})
    policy = _policy_codes({p.region_id for p in facts})
    coverage = _employee_coverage(numbers, year)
    # a person whose resident row is known is read by its id, as quote_request_of reads one
    # (no second lookup of the ID number: 90,000 index probes in a roster import)
    by_id = {p.resident_id: p.id_number for p in facts if p.resident_id is not None}
    unknown = sorted({p.id_number for p in facts if p.resident_id is None})
    history = _history(numbers, unknown, by_id, year)
    repaired = _repaired(unknown, by_id)
    subsidies_selectors.hold_identities(policy.values(), year)
    identities = subsidies_selectors.identities_for_many(numbers, [year],
                                                         policy_regions=set(policy.values()))
    out: dict[str, QuoteRequest] = {}
    for p in facts:
        on = paid_on(p) if callable(paid_on) else paid_on
        out[p.id_number] = _request(p, year, on, coverage.get(p.id_number, _NOT_COVERED), history.get(p.id_number),
                                    repaired.get(p.id_number),
                                    identities.get((p.id_number, year, policy[p.region_id]), ()))
    return out


_NO_YEARS: frozenset[int] = frozenset()


def _request(p: PersonFacts, year: int, on: date, cov: _Coverage, years: dict[int, str] | None,
             repairs: set[int] | None, identities: tuple) -> QuoteRequest:
    """The QuoteRequest from the facts read (the batch and the single path alike)."""
    own_permit = permit_valid(p, on)
    person = Person(birth_date=p.birth_date, hukou=p.hukou, residence_permit=own_permit,
                    student=p.student or None, employee_insured=cov.insured,
                    parent_insured_locally=(p.via_parent_permit and p.hukou != Hukou.LOCAL
                                            and not own_permit))
    return QuoteRequest(
        region=p.region_id, year=year, paid_on=on, person=person, identities=identities,
        history=dict(sorted(years.items())) if years else {},
        repaired_years=frozenset(repairs) if repairs else _NO_YEARS,
        left_other_scheme_on=reach_date(cov.left, cov.exits, on))


def quote_request_for(resident: Resident, year: int, paid_on: date, *,
                      via_parent_permit: bool = False) -> QuoteRequest:
    """The batch selector for one resident (``quote_request_of``)."""
    return quote_request_of(PersonFacts.of(resident, via_parent_permit=via_parent_permit), year, paid_on)


def quote_request_of(p: PersonFacts, year: int, paid_on: date) -> QuoteRequest:
    """``quote_requests_for([p], year, paid_on)[p.id_number]`` in fewer round trips — the
    channel API asks this for every dues query and payment: the reads of this app's tables
    as one ``UNION ALL`` statement by the resident's id and ID number, then the identities
    as the batch path asks for them (the shared lock first, inside a transaction).  Facts
    without a resident id (a file row) go the batch path.  The same
    interpretation of the rows (``_coverage_of``, ``_history_of``, ``_request``);
    enrollment/tests/test_quote_request_of.py compares the two paths field by field."""
    if p.resident_id is None:  # facts of a file row: by ID number, as the batch reads them
        return quote_requests_for([p], year, paid_on)[p.id_number]
    policy = _policy_codes({p.region_id})[p.region_id]
    coverage_rows, employee_rows, paid_rows, zero_rows, repaired = [], [], [], [], set()
    for kind, y, ended in prepared.rows(_ONE_PERSON_SQL, {"n": p.id_number, "resident": p.resident_id,
                                                         "year": year, "since": date(year - 1, 1, 1)}):
        if kind == "c":
            if y >= year - 1:
                coverage_rows.append((p.id_number, y, ended))
            if y < year:
                employee_rows.append((p.id_number, y))
        elif kind == "p":
            paid_rows.append((p.id_number, y))
        elif kind == "x":
            coverage_rows.append((p.id_number, None, ended))
        elif kind == "z":
            zero_rows.append((p.id_number, y))
        else:
            repaired.add(y)
    subsidies_selectors.hold_identities([policy], year)
    identities = subsidies_selectors.identities_for_many([p.id_number], [year], policy_regions={policy})
    return _request(p, year, paid_on, _coverage_of(coverage_rows, year).get(p.id_number, _NOT_COVERED),
                    _history_of(employee_rows, paid_rows, zero_rows).get(p.id_number), repaired or None,
                    identities.get((p.id_number, year, policy), ()))


def _policy_codes(region_codes: Iterable[str]) -> dict[str, str]:
    return policy_selectors.policy_codes(region_codes)


# The reads below take the ID numbers as one parameter, joined as a table: the ORM's
# ``__in`` spells out one placeholder per number, and building, sending and planning that
# statement cost more than running it; the join (rather than ``= ANY``) keeps the plan sound
# when the statistics do not yet know of rows just written (an import in the same
# transaction).  The parameter is the numbers joined by commas, split by the server: the
# driver binds parameters client-side, and quoting a list element by element cost more than
# the query (bench/RESULTS.md, imports).  ID numbers are digits and X (normalised and checked
# by the model's constraint), never a comma.

_NUMBERS = "unnest(string_to_array(%s, ',')) AS t(n)"

_COVERAGE_SQL = f"""
SELECT c.id_number, c.year, c.ended_on FROM {_NUMBERS}
JOIN {EmployeeCoverage._meta.db_table} c ON c.id_number = t.n WHERE c.year IN (%s, %s)
UNION ALL
SELECT x.id_number, NULL, x.left_on FROM {_NUMBERS}
JOIN {SchemeExit._meta.db_table} x ON x.id_number = t.n WHERE x.left_on >= %s
"""
_EMPLOYEE_YEARS_SQL = f"""
SELECT c.id_number, c.year FROM {_NUMBERS}
JOIN {EmployeeCoverage._meta.db_table} c ON c.id_number = t.n WHERE c.year < %s
"""
_PAID_YEARS_SQL = f"""
SELECT r.id_number, e.year FROM {_NUMBERS}
JOIN {Resident._meta.db_table} r ON r.id_number = t.n
JOIN {Enrollment._meta.db_table} e ON e.resident_id = r.id
WHERE e.status = %s AND e.year < %s
"""
_REPAIRED_SQL = f"""
SELECT r.id_number, g.year FROM {_NUMBERS}
JOIN {Resident._meta.db_table} r ON r.id_number = t.n
JOIN {GapRepair._meta.db_table} g ON g.resident_id = r.id
"""
# The same two by resident id, for facts that carry it (the ids as one comma-joined value).
_IDS = "unnest(string_to_array(%s, ',')::bigint[]) AS t(i)"
_ZERO_CLAIM_ANY_SQL = f"SELECT 1 FROM {ZeroClaimYear._meta.db_table} WHERE year = %s LIMIT 1"
_ZERO_CLAIM_SQL = f"""
SELECT z.id_number, z.year FROM {_NUMBERS}
JOIN {ZeroClaimYear._meta.db_table} z ON z.id_number = t.n
WHERE z.year = %s
"""
_PAID_YEARS_BY_ID_SQL = f"""
SELECT e.resident_id, e.year FROM {_IDS}
JOIN {Enrollment._meta.db_table} e ON e.resident_id = t.i
WHERE e.status = %s AND e.year < %s
"""
_REPAIRED_BY_ID_SQL = f"""
SELECT g.resident_id, g.year FROM {_IDS}
JOIN {GapRepair._meta.db_table} g ON g.resident_id = t.i
"""

# The same reads for one person, one statement (``quote_request_of``), a tag per kind: the
# employee years up to ``year`` (those of ``year - 1`` and ``year`` are the coverage rows, those
# before ``year`` the history's), the paid years before ``year`` and the repaired years — by
# the resident's id, so that PostgreSQL plans three small scans (0.15 ms) rather than joins.
_ONE_PERSON_SQL = f"""
SELECT 'c', c.year, c.ended_on FROM {EmployeeCoverage._meta.db_table} c
WHERE c.id_number = %(n)s AND c.year <= %(year)s
UNION ALL
SELECT 'p', e.year, NULL FROM {Enrollment._meta.db_table} e
WHERE e.resident_id = %(resident)s AND e.status = '{EnrollmentStatus.PAID.value}' AND e.year < %(year)s
UNION ALL
SELECT 'g', g.year, NULL FROM {GapRepair._meta.db_table} g WHERE g.resident_id = %(resident)s
UNION ALL
SELECT 'x', NULL, x.left_on FROM {SchemeExit._meta.db_table} x
WHERE x.resident_id = %(resident)s AND x.left_on >= %(since)s
UNION ALL
SELECT 'z', z.year, NULL FROM {ZeroClaimYear._meta.db_table} z
WHERE z.resident_id = %(resident)s AND z.year = %(year)s - 1
"""


def joined(values) -> str:
    """Values for ``string_to_array(%s, ',')``: ID numbers or ids, never holding a comma."""
    text = ",".join(map(str, values))
    if values and text.count(",") != len(values) - 1:
        raise ValueError("a value holds a comma")
    return text


def _rows(sql: str, params) -> list[tuple]:
    with connection.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall()


def _employee_coverage(numbers: list[str], year: int) -> dict[str, _Coverage]:
    text = joined(numbers)
    return _coverage_of(_rows(_COVERAGE_SQL, [text, year - 1, year, text, date(year - 1, 1, 1)]), year)


def _coverage_of(rows, year: int) -> dict[str, _Coverage]:
    """(ID number, year, ended on) of employee insurance in ``year - 1`` and ``year`` →
    insured in ``year`` (not ended), and the latest day they left."""
    insured: set[str] = set()
    left: dict[str, date] = {}
    exits: dict[str, list[date]] = {}
    for number, y, ended in rows:
        if y is None:  # a recorded leaving of another scheme (SchemeExit, enrollment.leavers)
            exits.setdefault(number, []).append(ended)
            continue
        if y == year and ended is None:
            insured.add(number)
        if ended is not None and (number not in left or ended > left[number]):
            left[number] = ended
    return {n: _Coverage(n in insured, left.get(n), tuple(sorted(exits.get(n, ()))))
            for n in insured | set(left) | set(exits)}


def _history(numbers: list[str], unknown: list[str], by_id: dict[int, str], year: int
             ) -> dict[str, dict[int, str]]:
    """Employee years of every number; paid years by resident id where known (``by_id``: id ->
    ID number), by ID number for the ``unknown``."""
    paid = _rows(_PAID_YEARS_SQL, [joined(unknown), EnrollmentStatus.PAID.value, year]) if unknown else []
    if by_id:
        paid += [(by_id[rid], y) for rid, y in _rows(_PAID_YEARS_BY_ID_SQL, [
            joined(sorted(by_id)), EnrollmentStatus.PAID.value, year])]
    # zero-claim years of year - 1 (the only one the rules read), when any is recorded at all
    zero = (_rows(_ZERO_CLAIM_SQL, [joined(numbers), year - 1])
            if _rows(_ZERO_CLAIM_ANY_SQL, [year - 1]) else [])
    return _history_of(_rows(_EMPLOYEE_YEARS_SQL, [joined(numbers), year]), paid, zero)


def _history_of(employee_rows, paid_rows, zero_rows=()) -> dict[str, dict[int, str]]:
    out: dict[str, dict[int, str]] = {}
    for number, y in employee_rows:
        out.setdefault(number, {})[y] = "employee"
    for number, y in paid_rows:
        out.setdefault(number, {})[y] = "resident"  # a paid enrollment wins
    for number, y in zero_rows:  # a paid year recorded as zero-claim (enrollment.zero_claims)
        if out.get(number, {}).get(y) == "resident":
            out[number][y] = "resident_zero_claim"
    return out


def _repaired(unknown: list[str], by_id: dict[int, str]) -> dict[str, set[int]]:
    out: dict[str, set[int]] = {}
    rows = _rows(_REPAIRED_SQL, [joined(unknown)]) if unknown else []
    if by_id:
        rows += [(by_id[rid], y) for rid, y in _rows(_REPAIRED_BY_ID_SQL, [joined(sorted(by_id))])]
    for number, y in rows:
        out.setdefault(number, set()).add(y)
    return out


@dataclass
class CoverageSummary:
    year: int
    timeline: list[tuple[int, str]]  # (year, "resident" | "employee" | "none")
    gap_years: tuple[int, ...]
    continuous: bool
    continuous_years: int  # covered years in a row before the year
    repaired: tuple[int, ...]
    waiting_months_in_window: int | None  # waiting if paid in the window (None: no policy)
    cap_adjustment: int | None
    cap_known: bool


def coverage_summary(resident: Resident, year: int, spec: PolicySpec | None) -> CoverageSummary:
    """What the history means for ``year``: gap, continuity, waiting, cap adjustment."""
    history = coverage_history(resident, before_year=year)
    repaired = repaired_years(resident)
    first = max(spec.continuity_from_year if spec else 2025, resident.birth_date.year)
    timeline = [(y, history.get(y, "none")) for y in range(first, year)]
    # Without a published policy the continuity is still known (it starts in 2025);
    # the waiting and the cap then depend on figures we do not have.
    cont = continuity(spec or _NO_POLICY, year, resident.birth_date.year, history, repaired)
    return CoverageSummary(
        year=year, timeline=timeline, gap_years=cont.gap_years, continuous=cont.continuous,
        continuous_years=cont.covered_run, repaired=tuple(sorted(r for r in repaired if r in cont.gap_years)),
        waiting_months_in_window=continuity_waiting_months(spec, cont, False) if spec else None,
        cap_adjustment=cap_adjustment(spec, cont) if spec else None,
        cap_known=spec is not None and spec.cap_increase_per_year is not None,
    )


def residents_for(user, queryset=None):
    """The residents a user may see: those whose current region is one of the user's."""
    from accounts.scoping import scope

    return scope(Resident.objects.all() if queryset is None else queryset, user)


def enrollments_for(user, queryset=None):
    """The enrollments a user may see — the one rule for the admin and the API.

    Scoped by the enrollment's own region, not the person's: an enrollment is
    the business of the region it was registered (and paid) in.  A paid year
    stays with that region when the person moves; unpaid ones move with the
    person (enrollment.pricing), so the new region sees what is still due.
    """
    from accounts.scoping import scope

    return scope(Enrollment.objects.all() if queryset is None else queryset, user, "region")


def live_year_enrollments(*, region: str, year: int, school: str | None = None, id_numbers=None):
    """The year's enrollments registered in ``region`` that are not cancelled, with their
    residents — of a school's pupils (``school``) or of these people (``id_numbers``, a list
    or a subquery of ID numbers) when given (payments' collection notices)."""
    live = (Enrollment.objects.filter(region_id=region, year=year)
            .exclude(status=EnrollmentStatus.CANCELLED).select_related("resident"))
    if school is not None:
        live = live.filter(resident__school=school)
    if id_numbers is not None:
        live = live.filter(resident__id_number__in=id_numbers)
    return live


def schools_enrolled(*, region: str, year: int, limit: int = 500) -> list[str]:
    """The schools of the region's residents registered for the year, by name."""
    return list(Resident.objects.filter(region_id=region, enrollments__year=year).exclude(school="")
                .values_list("school", flat=True).distinct().order_by("school")[:limit])


# --- batch selectors for the roster import (subsidies asks here; it never reads these tables) ---

_NAMES_IN = """
SELECT r.id_number, r.name FROM unnest(string_to_array(%s, ',')) AS t(n)
JOIN enrollment_resident r ON r.id_number = t.n WHERE r.region_id = ANY(%s)"""


def resident_names(id_numbers, regions) -> dict[str, str]:
    """ID number -> name of the residents of ``regions`` holding these numbers (one query)."""
    return dict(_rows(_NAMES_IN, [joined(set(id_numbers)), list(regions)]))


def resident_regions(id_numbers) -> set[str]:
    """The regions of the residents holding these ID numbers (one query, one array parameter)."""
    numbers = sorted(set(id_numbers))
    if not numbers:
        return set()
    return {code for (code,) in _rows("SELECT DISTINCT region_id FROM enrollment_resident WHERE id_number = ANY(%s)",
                                      [numbers])}


def registrations_of(id_numbers, year: int, regions) -> dict[str, tuple[str, datetime]]:
    """ID number -> (登记方式, registration time) of these people's live (not cancelled)
    enrollments of ``year`` in ``regions`` — how each was registered (family pools' deadlines)."""
    numbers = list(id_numbers)
    if not numbers:
        return {}
    return {number: (via, at) for number, via, at in
            Enrollment.objects.filter(resident__id_number__in=numbers, year=year, region_id__in=list(regions))
            .exclude(status=EnrollmentStatus.CANCELLED)
            .values_list("resident__id_number", "registered_via", "registered_at")}


_OF_YEAR = """
SELECT e.id, e.status, e.region_id, e.nonlocal_via_parent_permit, e.paid_on, e.paid_amount,
       e.amount_due, e.assistance_identity, e.assistance_amount, e.timing, e.category,
       r.id, r.id_number, r.name, r.birth_date, r.hukou, r.residence_permit,
       r.residence_permit_expires_on, r.student, r.region_id
FROM unnest(string_to_array(%s, ',')) AS t(n)
JOIN enrollment_resident r ON r.id_number = t.n
JOIN enrollment_enrollment e ON e.resident_id = r.id
WHERE e.year = %s AND e.status IN ('registered', 'paid') AND e.region_id = ANY(%s)
ORDER BY e.id"""


def live_enrollments_of(id_numbers, year: int, regions) -> list[tuple]:
    """The unpaid and paid enrollments of ``year`` in ``regions`` of these people, each row
    (enrollment id, status, region, via parent permit, paid on, paid amount, amount due,
    assistance identity, assistance amount, timing, category, resident id, ID number, name,
    birth date, hukou, residence permit, permit expiry, student, resident region), by id."""
    return _rows(_OF_YEAR, [joined(id_numbers), year, list(regions)])


# --- one person's enrollment for a year, for the channel API ----------------------------------


@dataclass(frozen=True, slots=True)
class YearEnrollment:
    """A resident and their live (not cancelled) enrollment of a year, as the channel API
    needs them: ``enrollment_id`` is None when the year is not registered."""

    facts: PersonFacts  # the resident's facts (via_parent_permit: the enrollment's)
    name: str
    enrollment_id: int | None
    region_id: str | None
    category: str | None
    status: str | None
    paid_amount: Decimal | None
    amount_due: Decimal | None


# The enrollment in a LATERAL subquery: with ``FOR UPDATE`` its row alone is locked (a
# locking clause may not reach the nullable side of an outer join), as
# ``select_for_update().filter(resident=…, year=…).exclude(status=cancelled)`` locked it.
_YEAR_ENROLLMENT = f"""
SELECT r.id, r.id_number, r.name, r.birth_date, r.hukou, r.residence_permit, r.residence_permit_expires_on,
       r.student, r.region_id, e.id, e.region_id, e.category, e.status, e.paid_amount, e.amount_due,
       e.nonlocal_via_parent_permit
FROM {Resident._meta.db_table} r
LEFT JOIN LATERAL (
  SELECT e.id, e.region_id, e.category, e.status, e.paid_amount, e.amount_due, e.nonlocal_via_parent_permit
  FROM {Enrollment._meta.db_table} e
  WHERE e.resident_id = r.id AND e.year = %s AND e.status <> '{EnrollmentStatus.CANCELLED.value}'
  ORDER BY e.id LIMIT 1 {{lock}}) e ON true
WHERE r.id_number = %s
"""
_YEAR_ENROLLMENT_READ = _YEAR_ENROLLMENT.format(lock="")
_YEAR_ENROLLMENT_LOCK = _YEAR_ENROLLMENT.format(lock="FOR UPDATE")


def year_enrollment(id_number: str, year: int, *, lock: bool = False) -> YearEnrollment | None:
    """The resident of a (normalised) ID number and their live enrollment of ``year`` in one
    statement; None when no resident holds the number.  ``lock``: the enrollment row is
    locked ``FOR UPDATE`` (inside a transaction), as a payment needs it."""
    found = prepared.rows(_YEAR_ENROLLMENT_LOCK if lock else _YEAR_ENROLLMENT_READ, [year, id_number])
    if not found:
        return None
    (rid, number, name, birth, hukou, permit, expires, student, region, eid, e_region, category, status,
     paid_amount, amount_due, via_parent) = found[0]
    facts = PersonFacts(id_number=number, birth_date=birth, hukou=hukou, residence_permit=permit,
                        residence_permit_expires_on=expires, student=student or "", region_id=region,
                        resident_id=rid, via_parent_permit=bool(via_parent))
    return YearEnrollment(facts=facts, name=name, enrollment_id=eid, region_id=e_region, category=category,
                          status=status, paid_amount=paid_amount, amount_due=amount_due)
