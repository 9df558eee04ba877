"""Default renewal (默认续保): register for year Y everyone paid for Y-1 who still
qualifies in the same category; list everyone else with the reason.

Set-based and resumable: candidates are read in chunks ordered by primary key,
priced by the pure rule functions, and written with one
``INSERT … SELECT FROM unnest(…) ON CONFLICT DO NOTHING`` per chunk, so a
second run (or two at once) never registers anybody twice.
"""

from __future__ import annotations

from collections import Counter
from datetime import date
from typing import Callable

from django.db import connection, transaction
from django.utils import timezone

from core import clock
from accounts.audit import audit_context
from policy.models import Region
from policy.rules import QuoteError, quote
from policy.rules.category import find_category
from policy.rules.types import Identity, Person, QuoteRequest

from .models import ReregisterReason
from .services import EnrollmentError, registration_date, spec_for

REASONS = [r.value for r in ReregisterReason]
CHUNK = 5000

_CANDIDATES = """
SELECT e.id, e.category, e.nonlocal_via_parent_permit,
       r.id, r.id_number, r.birth_date, r.hukou, r.residence_permit,
       r.residence_permit_expires_on, r.student, r.region_id,
       EXISTS (SELECT 1 FROM enrollment_enrollment n          -- any status: a cancellation stands
               WHERE n.resident_id = r.id AND n.year = %(year)s),
       EXISTS (SELECT 1 FROM enrollment_employeecoverage c
               WHERE c.id_number = r.id_number AND c.year = %(year)s AND c.ended_on IS NULL),
       e.region_id
FROM enrollment_enrollment e JOIN enrollment_resident r ON r.id = e.resident_id
WHERE e.year = %(prev)s AND e.status = 'paid' AND e.region_id = ANY(%(regions)s)
  AND e.id > %(lo)s AND e.id <= %(hi)s
ORDER BY e.id
"""

_INSERT = """
INSERT INTO enrollment_enrollment
  (resident_id, year, region_id, category, status, registered_via, registered_at, registered_by_id,
   nonlocal_via_parent_permit, personal_standard, fiscal_subsidy, assistance_identity,
   assistance_amount, amount_due, timing, paid_via, waiting_months, waiting_days, cancel_reason,
   updated_at)
SELECT t.resident_id, %(year)s, t.region_id, t.category, 'registered', 'default_renewal', %(now)s,
       %(user)s, t.via_parent, t.personal, t.fiscal, t.assist_identity, t.assist_amount, t.due,
       t.timing, '', 0, 0, '', %(now)s
FROM unnest(%(resident_ids)s::bigint[], %(region_ids)s::varchar[], %(categories)s::varchar[],
            %(via_parent)s::boolean[], %(personal)s::numeric[], %(fiscal)s::numeric[],
            %(assist_identity)s::varchar[], %(assist_amount)s::numeric[], %(due)s::numeric[],
            %(timing)s::varchar[])
     AS t(resident_id, region_id, category, via_parent, personal, fiscal, assist_identity,
          assist_amount, due, timing)
WHERE NOT EXISTS (SELECT 1 FROM enrollment_enrollment x      -- nor a cancelled one, meanwhile
                  WHERE x.resident_id = t.resident_id AND x.year = %(year)s)
ORDER BY t.resident_id
ON CONFLICT DO NOTHING
RETURNING resident_id
"""

_NOTICE = """
INSERT INTO enrollment_reregistrationnotice (resident_id, region_id, year, reason, detail, created_at)
SELECT t.resident_id, t.region_id, %(year)s, t.reason, t.detail, %(now)s
FROM unnest(%(resident_ids)s::bigint[], %(region_ids)s::varchar[], %(reasons)s::varchar[],
            %(details)s::varchar[]) AS t(resident_id, region_id, reason, detail)
ON CONFLICT (resident_id, year) DO UPDATE SET reason = EXCLUDED.reason, detail = EXCLUDED.detail,
  region_id = EXCLUDED.region_id
"""


def renewal_regions(region_code: str) -> list[str]:
    """The region and the counties that run its policy (Lüliang: also Xiaoyi)."""
    codes = [region_code]
    codes += list(Region.objects.filter(policy_region_id=region_code).values_list("code", flat=True))
    return codes


def _identities(id_numbers: list[str], year: int) -> dict[str, list[Identity]]:
    out: dict[str, list[Identity]] = {}
    with connection.cursor() as cur:
        cur.execute("SELECT id_number, identity, certified_on FROM subsidies_assistanceidentity "
                    "WHERE year = %s AND id_number = ANY(%s)", [year, id_numbers])
        for number, code, on in cur.fetchall():
            out.setdefault(number, []).append(Identity(code=code, certified_on=on))
    return out


def _decide(spec, row, paid_on: date, identities, regions) -> tuple[str | None, str, object]:
    """(reason, detail, quote result) for one candidate; reason None = renew."""
    (_, prev_category, via_parent, _, number, birth, hukou, permit, expires, student,
     region_id, _, employee, _) = row
    start = spec.year_start
    if region_id not in regions:
        return ReregisterReason.HUKOU_MOVED, f"现参保地 {region_id}", None
    if employee:
        return ReregisterReason.NOT_ELIGIBLE, "已参加职工医保", None
    own_permit = permit and (expires is None or expires >= start)
    if hukou != "local" and via_parent and not own_permit:
        return ReregisterReason.PARENT_PERMIT, "", None
    if hukou != "local" and not own_permit:
        return ReregisterReason.PERMIT_EXPIRED, f"居住证有效期至 {expires}" if expires else "", None
    person = Person(birth_date=birth, hukou=hukou, residence_permit=own_permit,
                    student=student or None)
    try:
        category = find_category(spec, person)
    except QuoteError as exc:
        return (ReregisterReason.VALUE_NOT_IN_SOURCE if exc.code == "value_not_in_source"
                else ReregisterReason.NOT_ELIGIBLE), exc.message[:200], None
    if category.code != prev_category:
        reason = (ReregisterReason.GRADUATED if prev_category == "college"
                  else ReregisterReason.CATEGORY_CHANGED)
        return reason, f"{prev_category} → {category.code}", None
    # Every candidate was paid for the year before, so continuous: the registration's timing
    # then agrees with what enrollment_register would store (the payment reprices anyway).
    req = QuoteRequest(region=region_id, year=spec.year, paid_on=paid_on, person=person,
                       identities=tuple(identities), history={spec.year - 1: "resident"})
    try:
        result = quote(spec, req)
    except QuoteError as exc:
        return (ReregisterReason.VALUE_NOT_IN_SOURCE if exc.code == "value_not_in_source"
                else ReregisterReason.NOT_ELIGIBLE), exc.message[:200], None
    return None, "", result


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


def renew_range(*, region: str, to_year: int, lo: int, hi: int, today: date, actor=None) -> dict:
    """Default renewal of the paid ``to_year - 1`` enrollments with ``lo < id <= hi``, in one
    transaction (the caller's chunk): inserts, notices and the counts of this range."""
    spec = check_renewal(region, to_year)
    paid_on = registration_date(spec, today)
    regions = renewal_regions(region)
    user_id = getattr(actor, "pk", None)
    counts = _new_counts()
    with transaction.atomic(), audit_context(actor, action="renew_enrollments", region=region, year=to_year):
        with connection.cursor() as cur:
            cur.execute(_CANDIDATES, {"year": to_year, "prev": to_year - 1, "regions": regions,
                                      "lo": lo, "hi": hi})
            rows = cur.fetchall()
        idents = _identities([r[4] for r in rows], to_year)
        new = {k: [] for k in ("resident_ids", "region_ids", "categories", "via_parent", "personal",
                               "fiscal", "assist_identity", "assist_amount", "due", "timing")}
        notes = {k: [] for k in ("resident_ids", "region_ids", "reasons", "details")}
        for row in rows:
            if row[11]:
                counts["unchanged"] += 1
                continue
            reason, detail, result = _decide(spec, row, paid_on, idents.get(row[4], ()), regions)
            if reason is not None:
                counts[f"reregister:{reason}"] += 1
                notes["resident_ids"].append(row[3])
                # filed under the region that renewed (a mover's old region sees who left)
                notes["region_ids"].append(row[13])
                notes["reasons"].append(reason)
                notes["details"].append(detail)
                continue
            new["resident_ids"].append(row[3])
            new["region_ids"].append(row[10])
            new["categories"].append(result.category)
            # renewed people are local or hold their own valid permit: never on a parent's
            new["via_parent"].append(False)
            new["personal"].append(result.personal_standard)
            new["fiscal"].append(result.fiscal_subsidy)
            new["assist_identity"].append(result.assistance.identity if result.assistance else "")
            new["assist_amount"].append(result.assistance.amount if result.assistance else None)
            new["due"].append(result.amount_due)
            new["timing"].append(result.timing)
        now = timezone.now()
        with connection.cursor() as cur:
            if new["resident_ids"]:
                cur.execute(_INSERT, {**new, "year": to_year, "now": now, "user": user_id})
                inserted = len(cur.fetchall())
                counts["renewed"] += inserted
                counts["unchanged"] += len(new["resident_ids"]) - inserted  # registered meanwhile
            if notes["resident_ids"]:
                cur.execute(_NOTICE, {**notes, "year": to_year, "now": now})
    counts["processed"] = len(rows)
    counts["succeeded"] = counts["renewed"]
    counts["failed"] = sum(counts[f"reregister:{r}"] for r in REASONS)
    return dict(counts)


def summary_of(counts: dict) -> dict:
    """The contract's summary (INTERFACES.md section 3) from summed counts."""
    return {"renewed": counts.get("renewed", 0), "unchanged": counts.get("unchanged", 0),
            "reregister": {r: counts.get(f"reregister:{r}", 0) for r in REASONS}}


def candidate_ranges(region: str, to_year: int, chunk_size: int) -> tuple[list[tuple[int, int]], int]:
    """Key ranges ``(lo, hi]`` of about ``chunk_size`` candidates each, and their number."""
    with connection.cursor() as cur:
        cur.execute("SELECT id FROM enrollment_enrollment WHERE year = %s AND status = 'paid' "
                    "AND region_id = ANY(%s) ORDER BY id", [to_year - 1, renewal_regions(region)])
        ids = [r[0] for r in cur.fetchall()]
    ranges, lo = [], 0
    for i in range(chunk_size - 1, len(ids) + chunk_size - 1, chunk_size):
        hi = ids[min(i, len(ids) - 1)]
        ranges.append((lo, hi))
        lo = hi
    return ranges, len(ids)


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
