"""Default renewal (默认续保): register for year Y everyone paid for Y-1 who still
qualifies in the same category; list everyone else with the reason.

Set-based and resumable: candidates are read in key ranges (the batch engine's
chunks), their facts gathered by the one batch selector
(``selectors.quote_requests_for``), priced by the pure rule functions and
written by the one enrollment writer (``writer.enrollments_insert``, ``ON
CONFLICT DO NOTHING``), so a second run (or two at once) never registers
anybody twice.  Per chunk: one candidate query, the selector's few, one
re-check, one insert and one notice upsert, whatever the chunk's size.
"""

from __future__ import annotations

from collections import Counter
from datetime import date
from typing import Callable

from django.db import connection, transaction

from core import clock
from core.audit_actor import acting_user
from core.audit import audit_context
from policy.selectors import policy_members
from policy.rules import QuoteError, quote
from policy.rules.category import find_category

from .models import ReregisterReason
from .selectors import PersonFacts, quote_requests_for
from .services import (
    EnrollmentError,
    lock_residents_shared,
    other_scheme_refusals,
    registration_date,
    spec_for,
)
from .writer import EnrollmentRow, enrollments_insert

REASONS = [r.value for r in ReregisterReason]
CHUNK = 5000

# The previous year's paid enrollments of a key range with their residents, and whether
# the person holds any enrollment for the year renewed into (any status: a cancellation
# stands).  ``year + 0`` keeps that probe on the resident's index: during a renewal the
# statistics still say the new year is empty, and with ``year = …`` the planner reads
# every row of the new year once per chunk (a hashed subplan) — quadratic over a run.
_CANDIDATES = """
SELECT e.id, e.category, e.nonlocal_via_parent_permit,
       r.id, r.id_number, r.birth_date, r.hukou, r.residence_permit,
       r.residence_permit_expires_on, r.student, r.region_id,
       EXISTS (SELECT 1 FROM enrollment_enrollment n
               WHERE n.resident_id = r.id AND n.year + 0 = %(year)s),
       e.region_id
FROM enrollment_enrollment e JOIN enrollment_resident r ON r.id = e.resident_id
WHERE e.year = %(prev)s AND e.status = 'paid' AND e.region_id = ANY(%(regions)s)
  AND e.id > %(lo)s AND e.id <= %(hi)s
ORDER BY e.id
"""

# Who got an enrollment for the year (any status) since the candidates were read: the
# writer skips only a live registration (its unique constraint), not a cancelled one.
_REGISTERED_MEANWHILE = """
SELECT DISTINCT resident_id FROM enrollment_enrollment
WHERE resident_id = ANY(%(ids)s::bigint[]) AND year + 0 = %(year)s
"""

_NOTICE = """
INSERT INTO enrollment_reregistrationnotice (resident_id, region_id, year, reason, detail, created_at)
SELECT t.resident_id, t.region_id, %(year)s, t.reason, t.detail, %(now)s
FROM unnest(%(resident_ids)s::bigint[], %(region_ids)s::varchar[], %(reasons)s::varchar[],
            %(details)s::varchar[]) AS t(resident_id, region_id, reason, detail)
ORDER BY t.resident_id
ON CONFLICT (resident_id, year) DO UPDATE SET reason = EXCLUDED.reason, detail = EXCLUDED.detail,
  region_id = EXCLUDED.region_id
"""


def renewal_regions(region_code: str) -> list[str]:
    """The region and the counties that run its policy (Lüliang: also Xiaoyi)."""
    return policy_members(region_code)


def _not_eligible(exc: QuoteError) -> tuple[str, str]:
    return (ReregisterReason.VALUE_NOT_IN_SOURCE if exc.code == "value_not_in_source"
            else ReregisterReason.NOT_ELIGIBLE), exc.message[:200]


def _permit_refusal(row, start: date) -> tuple[str, str] | None:
    """A non-local person needs their own permit lasting into the year renewed into
    (registered on a parent's permit before: the parent's case is looked at again)."""
    (_, _, via_parent, _, _, _, hukou, permit, expires, _, _, _, _) = row
    if hukou == "local" or (permit and (expires is None or expires >= start)):
        return None
    if via_parent:
        return ReregisterReason.PARENT_PERMIT, ""
    return ReregisterReason.PERMIT_EXPIRED, f"居住证有效期至 {expires}" if expires else ""


def _facts(row) -> PersonFacts:
    """The facts kept on the resident row, as the gatherer takes them (not on a parent's
    permit: a non-local person renews only on their own)."""
    (_, _, _, resident_id, number, birth, hukou, permit, expires, student, region_id, _, _) = row
    return PersonFacts(id_number=number, birth_date=birth, hukou=hukou, residence_permit=permit,
                       residence_permit_expires_on=expires, student=student or "", region_id=region_id,
                       resident_id=resident_id)


def _decide(spec, row, req) -> tuple[str | None, str, object]:
    """(reason, detail, quote result) for one candidate that still lives in the
    renewing region; reason None = renew."""
    if req.person.employee_insured:
        return ReregisterReason.NOT_ELIGIBLE, "已参加职工医保", None
    refused = _permit_refusal(row, spec.year_start)
    if refused is not None:
        return (*refused, None)
    prev_category = row[1]
    try:
        category = find_category(spec, req.person)
        if category.code != prev_category:
            reason = (ReregisterReason.GRADUATED if prev_category == "college"
                      else ReregisterReason.CATEGORY_CHANGED)
            return reason, f"{prev_category} → {category.code}", None
        return None, "", quote(spec, req)
    except QuoteError as exc:
        return (*_not_eligible(exc), None)


def check_renewal(region: str, to_year: int):
    """The spec of the year renewed into; refuses a county (it renews with its city)."""
    spec = spec_for(region, to_year)
    if spec.region_code != region:
        raise EnrollmentError("invalid_input",
                              f"{region} 执行 {spec.region_code} 的政策，请对 {spec.region_code} 运行默认续保")
    return spec


def _new_counts() -> Counter:
    counts: Counter = Counter(processed=0, succeeded=0, failed=0, renewed=0, unchanged=0)
    for reason in REASONS:
        counts[f"reregister:{reason}"] = 0
    return counts


def _read_candidates(to_year: int, regions: list[str], lo: int, hi: int) -> list[tuple]:
    with connection.cursor() as cur:
        cur.execute(_CANDIDATES, {"year": to_year, "prev": to_year - 1, "regions": regions,
                                  "lo": lo, "hi": hi})
        return cur.fetchall()


def renew_range(*, region: str, to_year: int, lo: int, hi: int, today: date, actor=None) -> dict:
    """Default renewal of the paid ``to_year - 1`` enrollments with ``lo < id <= hi``, in one
    transaction (the caller's chunk): inserts, notices and the counts of this range."""
    spec = check_renewal(region, to_year)
    paid_on = registration_date(spec, today)
    regions = renewal_regions(region)
    user_id = getattr(acting_user(actor), "pk", None)
    counts = _new_counts()
    with transaction.atomic(), audit_context(actor, action="renew_enrollments", region=region, year=to_year):
        rows = _read_candidates(to_year, regions, lo, hi)
        notes: list[tuple[int, str, str, str]] = []  # (resident, region filed under, reason, detail)
        stayed = []
        for row in rows:
            if row[11]:
                counts["unchanged"] += 1
            elif row[10] not in regions:
                # filed under the region that renewed (a mover's old region sees who left)
                notes.append((row[3], row[12], ReregisterReason.HUKOU_MOVED, f"现参保地 {row[10]}"))
            else:
                stayed.append(row)
        requests = quote_requests_for([_facts(row) for row in stayed], to_year, paid_on)
        new: list[EnrollmentRow] = []
        for row in stayed:
            reason, detail, result = _decide(spec, row, requests[row[4]])
            if reason is None:
                new.append(_enrollment_row(row, result, to_year, user_id))
            else:
                notes.append((row[3], row[12], reason, detail))
        now = clock.now()
        new = _in_no_other_scheme(new, to_year, notes, {row[3]: row[12] for row in stayed})
        if new:
            to_insert = _not_registered_meanwhile(new, to_year)
            written = enrollments_insert(to_insert, now=now) if to_insert else []
            _withdraw_notices([w.resident_id for w in written], to_year)
            inserted = len(written)
            counts["renewed"] += inserted
            counts["unchanged"] += len(new) - inserted  # registered (or cancelled) meanwhile
        _file_notices(notes, to_year, now)
    for _, _, reason, _ in notes:
        counts[f"reregister:{reason}"] += 1
    counts["processed"] = len(rows)
    counts["succeeded"] = counts["renewed"]
    counts["failed"] = sum(counts[f"reregister:{r}"] for r in REASONS)
    return dict(counts)


def _enrollment_row(row, result, year: int, user_id: int | None) -> EnrollmentRow:
    # renewed people are local or hold their own valid permit: never on a parent's
    return EnrollmentRow(
        resident_id=row[3], year=year, region_id=row[10], category=result.category,
        amount_due=result.amount_due, registered_via="default_renewal", registered_by_id=user_id,
        personal_standard=result.personal_standard, fiscal_subsidy=result.fiscal_subsidy,
        assistance_identity=result.assistance.identity if result.assistance else "",
        assistance_amount=result.assistance.amount if result.assistance else None,
        timing=result.timing)


def _withdraw_notices(resident_ids: list[int], year: int) -> None:
    """A person renewed now no longer has to register again: an earlier run's notice goes."""
    if resident_ids:
        with connection.cursor() as cur:
            cur.execute("DELETE FROM enrollment_reregistrationnotice WHERE year = %s AND resident_id = ANY(%s)",
                        [year, sorted(resident_ids)])


def _file_notices(notes: list[tuple[int, str, str, str]], year: int, now) -> None:
    """Who must register again and why, one notice per person and year (upserted)."""
    if not notes:
        return
    notes = sorted(notes)
    with connection.cursor() as cur:
        cur.execute(_NOTICE, {"resident_ids": [n[0] for n in notes], "region_ids": [n[1] for n in notes],
                              "reasons": [n[2] for n in notes], "details": [n[3] for n in notes],
                              "year": year, "now": now})


def _in_no_other_scheme(rows: list[EnrollmentRow], year: int, notes: list,
                        filed_under: dict[int, str]) -> list[EnrollmentRow]:
    """One scheme at a time (as ``enrollment_register``): whoever another scheme holds in
    ``year`` (咸阳 flexible employment) is not renewed but listed, reason ``other_scheme`` with
    the single registration's words.  The people's rows are locked first (key share, id
    order): the other scheme's registration, which locks the row, cannot slip in between."""
    if not rows:
        return rows
    lock_residents_shared([r.resident_id for r in rows])
    refused = other_scheme_refusals([r.resident_id for r in rows], year)
    if not refused:
        return rows
    for r in rows:
        if r.resident_id in refused:
            notes.append((r.resident_id, filed_under[r.resident_id], ReregisterReason.OTHER_SCHEME,
                          refused[r.resident_id][:200]))
    return [r for r in rows if r.resident_id not in refused]


def _not_registered_meanwhile(rows: list[EnrollmentRow], year: int) -> list[EnrollmentRow]:
    """Drop whoever got an enrollment for ``year`` (any status) after the candidates were read."""
    with connection.cursor() as cur:
        cur.execute(_REGISTERED_MEANWHILE, {"year": year, "ids": [r.resident_id for r in rows]})
        taken = {rid for (rid,) in cur.fetchall()}
    return [r for r in rows if r.resident_id not in taken] if taken else rows


def summary_of(counts: dict) -> dict:
    """The contract's summary (INTERFACES.md section 3) from summed counts."""
    return {"renewed": counts.get("renewed", 0), "unchanged": counts.get("unchanged", 0),
            "reregister": {r: counts.get(f"reregister:{r}", 0) for r in REASONS}}


_RANGES = """
SELECT max(id), count(*) FROM (
  SELECT id, (row_number() OVER (ORDER BY id) - 1) / %(size)s AS bucket
  FROM enrollment_enrollment
  WHERE year = %(prev)s AND status = 'paid' AND region_id = ANY(%(regions)s)
) s GROUP BY bucket ORDER BY bucket
"""


def candidate_ranges(region: str, to_year: int, chunk_size: int) -> tuple[list[tuple[int, int]], int]:
    """Key ranges ``(lo, hi]`` of about ``chunk_size`` candidates each, and their number
    (the ranges are cut in the database: one row per range comes back, not every id)."""
    with connection.cursor() as cur:
        cur.execute(_RANGES, {"size": chunk_size, "prev": to_year - 1, "regions": renewal_regions(region)})
        buckets = cur.fetchall()
    ranges, lo = [], 0
    for hi, _ in buckets:
        ranges.append((lo, hi))
        lo = hi
    return ranges, sum(n for _, n in buckets)


def renew_enrollments(*, region: str, to_year: int, actor=None, today: date | None = None,
                      progress: Callable[[int, int], None] | None = None,
                      chunk_size: int = CHUNK) -> dict:
    """Default renewal of one region (and its counties) into ``to_year`` in this process,
    without a run record (the batch job ``RenewalJob`` runs the same ranges).

    Returns ``{"renewed": n, "unchanged": n, "reregister": {reason: n}}``;
    ``unchanged`` counts people already registered (or cancelled) for ``to_year``.
    """
    check_renewal(region, to_year)
    today = today or clock.today()
    ranges, total = candidate_ranges(region, to_year, chunk_size)
    counts: Counter = Counter()
    for lo, hi in ranges:
        counts.update(renew_range(region=region, to_year=to_year, lo=lo, hi=hi, today=today, actor=actor))
        if progress:
            progress(counts["processed"], total)
    return summary_of(counts)
