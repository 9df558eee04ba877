"""Reads shared by the quote command, the API and the admin."""

from __future__ import annotations

import threading
import time

from .datafile import spec_from_data
from .models import PolicyYear, PolicyYearStatus, Region
from .rules import PolicySpec, QuoteError

_cache: dict[tuple[int, int], PolicySpec] = {}
_lock = threading.Lock()


def policy_region(code: str) -> Region | None:
    """The region whose policy applies to ``code`` (a county may use its city's)."""
    region = Region.objects.select_related("policy_region").filter(code=code).first()
    if region is None:
        return None
    return region.policy_region or region


# Region code -> the code of its policy region, per process.  The regions change only by
# migration, ``load_policies`` or the region admin, and a county changing the policy it runs
# is a planned, rare event: a change reaches each process within REGION_MAP_TTL seconds (a
# code not yet in the map reloads it at once).  Asked by every quote, registration and
# payment: an ORM query each time cost about 0.7 ms of CPU (bench/RESULTS.md, channel API).
REGION_MAP_TTL = 30.0
_regions: tuple[float, dict[str, str]] = (float("-inf"), {})


def _region_map(codes: set[str]) -> dict[str, str]:
    global _regions
    loaded_at, known = _regions
    now = time.monotonic()
    if now - loaded_at > REGION_MAP_TTL or not codes <= known.keys():
        known = {code: policy or code for code, policy in Region.objects.values_list("code", "policy_region_id")}
        _regions = (now, known)
    return known


def policy_codes(region_codes) -> dict[str, str]:
    """Region code -> the code of the region whose policy it runs (itself, or its city):
    孝义 141181 -> 吕梁 141100.  Unknown codes map to themselves.  From a per-process map
    of every region, at most REGION_MAP_TTL seconds old."""
    codes = set(region_codes)
    known = _region_map(codes)
    return {code: known.get(code, code) for code in codes}


def pool_results_on(region_code: str, year: int):
    """The day a region's family-pool deduction results show to the citizen (PolicyYear
    ``pool_results_on``, Shanghai 12-28), by the policy region of ``region_code``; None unset."""
    region = Region.objects.filter(code=region_code).only("code", "policy_region").first()
    code = region.policy_code if region else region_code
    return PolicyYear.objects.filter(region_id=code, year=year).values_list("pool_results_on", flat=True).first()


def policy_members(region_code: str) -> list[str]:
    """The region and the counties that run its policy (吕梁 141100: also 孝义 141181)."""
    return [region_code, *Region.objects.filter(policy_region_id=region_code).order_by("code")
            .values_list("code", flat=True)]


# One statement: the policy region of the code (itself, or its city) and that region's
# published year (id, revision).  Asked by every quote, registration and payment, so one
# round trip instead of two, and prepared on the connection (core.prepared) so that
# PostgreSQL stops planning it (bench/RESULTS.md, channel API).
_PUBLISHED = f"""
SELECT r.code, r.name, py.id, py.revision
FROM policy_region asked
JOIN policy_region r ON r.code = COALESCE(asked.policy_region_id, asked.code)
LEFT JOIN policy_policyyear py
  ON py.region_id = r.code AND py.year = %s AND py.status = '{PolicyYearStatus.PUBLISHED.value}'
WHERE asked.code = %s
"""


def published_spec(region_code: str, year: int) -> PolicySpec:
    """The published policy of a region and year as a PolicySpec.

    Raises QuoteError("policy_missing") when there is none.  Specs are cached
    per process by (policy year id, revision): every publish, return to draft
    and edit bumps the revision, so a stale spec is never used.
    """
    from core import prepared

    from .services import policy_year_as_data

    found = next(iter(prepared.rows(_PUBLISHED, [year, region_code])), None)
    if found is None:
        raise QuoteError("policy_missing", f"未知地区 {region_code}（无该地区的政策）")
    _, region_name, year_id, revision = found
    if year_id is None:
        raise QuoteError("policy_missing", f"{region_name} {year} 年度没有已发布的政策")
    row = (year_id, revision)
    spec = _cache.get(row)
    if spec is None:
        py = PolicyYear.objects.select_related("region").get(pk=row[0])
        spec = spec_from_data(policy_year_as_data(py), py.region.name)
        with _lock:
            for key in [k for k in _cache if k[0] == row[0]]:
                del _cache[key]
            _cache[row] = spec
    return spec


def registration_documents_listed(region_code: str, year: int) -> bool:
    """Whether the source of the policy the region runs in ``year`` lists the documents a
    registration needs (policy data, ``registration_documents_listed``: 宁波 000 §2).  False
    when the region has no published policy for the year: no list is known, none is made up."""
    try:
        return published_spec(region_code, year).registration_documents_listed
    except QuoteError:
        return False


def published_flexible_scheme(region_code: str, year: int):
    """(FlexibleSchemeSpec, region name) of the published policy of a region and year.

    QuoteError("policy_missing") as ``published_spec``; ("scheme_not_offered") when the
    region runs no flexible-employment scheme that year (no rates in its policy data)."""
    spec = published_spec(region_code, year)
    if spec.flexible is None:
        raise QuoteError("scheme_not_offered",
                         f"{spec.region_name} {year} 年度没有灵活就业人员医疗保险的政策（来源文件未涉及）")
    return spec.flexible, spec.region_name


def clear_cache() -> None:
    """Forget the specs and the region map (tests; after loading policies in a process)."""
    global _regions
    with _lock:
        _cache.clear()
        _regions = (float("-inf"), {})
