"""Defaults for the screens (issue 12): which region and benefit year a form starts on, taken
from the user's regions and the business date, offering only published years."""

from __future__ import annotations

from datetime import date

from .models import PolicyYear, PolicyYearStatus, Region
from .selectors import policy_codes


def published_years(region_codes) -> list[int]:
    """The years (newest first) published for the policy region of every one of ``region_codes``
    (a county runs its city's policy: 孝义 141181 → 吕梁 141100)."""
    cities = set(policy_codes(region_codes).values())
    if not cities:
        return []
    published: dict[int, set[str]] = {}
    for region, year in PolicyYear.objects.filter(status=PolicyYearStatus.PUBLISHED,
                                                  region_id__in=cities).values_list("region_id", "year"):
        published.setdefault(year, set()).add(region)
    return sorted((y for y, regions in published.items() if regions == cities), reverse=True)


def default_year(years, today: date) -> int | None:
    """Next year when it is published (the registration season), else this year, else the newest."""
    for year in (today.year + 1, today.year):
        if year in years:
            return year
    return years[0] if years else None


def default_region(codes) -> str | None:
    """The region a form starts on: the user's city (a region that runs its own policy) before
    its counties, lowest code first; None for a user of every region (``codes`` None) or of none."""
    if not codes:
        return None
    own = sorted(Region.objects.filter(code__in=codes, policy_region__isnull=True)
                 .values_list("code", flat=True))
    return own[0] if own else sorted(codes)[0]
