"""Reads shared by the quote command, the API and the admin."""

from __future__ import annotations

import threading

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


def policy_codes(region_codes) -> dict[str, str]:
    """Region code -> the code of the region whose policy it runs (itself, or its city):
    孝义 141181 -> 吕梁 141100.  Unknown codes map to themselves."""
    codes = set(region_codes)
    out = {code: code for code in codes}
    for code, policy in Region.objects.filter(code__in=codes).values_list("code", "policy_region_id"):
        out[code] = policy or code
    return out


def policy_members(region_code: str) -> list[str]:
    """The region and the counties that run its policy (吕梁 141100: also 孝义 141181)."""
    return [region_code, *Region.objects.filter(policy_region_id=region_code).order_by("code")
            .values_list("code", flat=True)]


def published_spec(region_code: str, year: int) -> PolicySpec:
    """The published policy of a region and year as a PolicySpec.

    Raises QuoteError("policy_missing") when there is none.  Specs are cached
    per process by (policy year id, revision): every publish, return to draft
    and edit bumps the revision, so a stale spec is never used.
    """
    from .services import policy_year_as_data

    region = policy_region(region_code)
    if region is None:
        raise QuoteError("policy_missing", f"未知地区 {region_code}（无该地区的政策）")
    row = (PolicyYear.objects.filter(region=region, year=year, status=PolicyYearStatus.PUBLISHED)
           .values_list("id", "revision").first())
    if row is None:
        raise QuoteError("policy_missing", f"{region.name} {year} 年度没有已发布的政策")
    spec = _cache.get(row)
    if spec is None:
        py = PolicyYear.objects.select_related("region").get(pk=row[0])
        spec = spec_from_data(policy_year_as_data(py), py.region.name)
        with _lock:
            for key in [k for k in _cache if k[0] == row[0]]:
                del _cache[key]
            _cache[row] = spec
    return spec


def clear_cache() -> None:
    with _lock:
        _cache.clear()
