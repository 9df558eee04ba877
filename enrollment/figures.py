"""The home page's enrollment figures (issue 12): per region and benefit year, how many are
registered (paid included) and how many have paid.  Refreshed by the engine (a Celery beat task,
enrollment.tasks.refresh_enrollment_figures) with one set-based statement, read by the home page
as a few rows — never a COUNT over the whole enrollment table per page view.

Two more groups go to core's summary store (core.figures), refreshed with the others by
core.tasks.refresh_figures: the assisted people and amounts by funding source
(``assisted_refresh``) and the re-registration notices still outstanding
(``reregistration_refresh``)."""

from __future__ import annotations

from dataclasses import dataclass

from decimal import Decimal

from django.db import connection, transaction

from core import clock
from core.figures import Row, replace

from .models import EnrollmentFigure

_REFRESH = """
INSERT INTO enrollment_enrollmentfigure (region_id, year, registered, paid, refreshed_at)
SELECT region_id, year,
       count(*) FILTER (WHERE status IN ('registered', 'paid')),
       count(*) FILTER (WHERE status = 'paid'),
       %s
FROM enrollment_enrollment
GROUP BY region_id, year
ON CONFLICT (region_id, year) DO UPDATE
   SET registered = EXCLUDED.registered, paid = EXCLUDED.paid, refreshed_at = EXCLUDED.refreshed_at
"""


def figures_refresh() -> int:
    """Recount every region and year in one statement (and drop figures of years that no
    longer have enrollments).  Returns the number of figure rows."""
    now = clock.now()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(_REFRESH, [now])
        EnrollmentFigure.objects.exclude(refreshed_at=now).delete()
        return EnrollmentFigure.objects.count()


@dataclass(frozen=True)
class Figure:
    region: str
    year: int
    registered: int
    paid: int

    @property
    def rate(self) -> str:
        """缴费率 in percent with one decimal, or — when nobody is registered."""
        if not self.registered:
            return "—"
        return f"{self.paid * 100 / self.registered:.1f}%"


def figures_for(region_codes, years) -> tuple[list[Figure], object]:
    """The figures of ``region_codes`` (None: every region) for ``years``, and when they were
    counted (None: never)."""
    rows = EnrollmentFigure.objects.filter(year__in=list(years)).select_related("region").order_by("region_id", "year")
    if region_codes is not None:
        rows = rows.filter(region_id__in=list(region_codes))
    rows = list(rows)
    refreshed = max((r.refreshed_at for r in rows), default=None)
    return [Figure(r.region.name, r.year, r.registered, r.paid) for r in rows], refreshed


# --- assisted people and amounts by funding source ------------------------------------------

ASSISTED = "assisted"
NO_SOURCE = "来源文件未给出"  # as the funding report (subsidies.reports) says it

_ASSISTED = """
SELECT region_id, year, assistance_identity, count(*), sum(assistance_amount)
FROM enrollment_enrollment
WHERE status <> 'cancelled' AND assistance_identity <> '' AND assistance_amount > 0
GROUP BY region_id, year, assistance_identity
"""


def _funding_sources(pairs) -> dict[tuple[str, int, str], str]:
    """(policy region, year, identity) -> the tier's funding source, from the policy years."""
    from policy.models import AssistanceTier

    regions = sorted({r for r, _ in pairs})
    years = sorted({y for _, y in pairs})
    tiers = AssistanceTier.objects.filter(policy_year__region_id__in=regions, policy_year__year__in=years,
                                          policy_year__status="published")
    return {(r, y, i): src for r, y, i, src in tiers.values_list("policy_year__region_id", "policy_year__year",
                                                                    "identity", "funding_source")}


def assisted_refresh() -> int:
    """Enrollments (not cancelled) granted assistance, per region, year and funding source (the
    policy tier of the person's identity names it; without one: 来源文件未给出)."""
    from policy.selectors import policy_codes

    with connection.cursor() as cursor:
        cursor.execute(_ASSISTED)
        counted = cursor.fetchall()
    policy = policy_codes({r for r, *_ in counted})
    sources = _funding_sources({(policy[r], y) for r, y, *_ in counted})
    cells: dict[tuple[str, int, str], list] = {}
    for region, year, identity, n, total in counted:
        source = sources.get((policy[region], year, identity)) or NO_SOURCE
        cell = cells.setdefault((region, year, source), [0, Decimal("0.00")])
        cell[0] += n
        cell[1] += total
    rows = [Row(region=r, year=y, key=src, label=src, count=n, amount=amount)
            for (r, y, src), (n, amount) in sorted(cells.items())]
    return replace(ASSISTED, rows)


# --- re-registration notices still outstanding ----------------------------------------------

REREGISTRATION = "reregistration"

_OUTSTANDING = """
SELECT n.region_id, n.year, n.reason, count(*)
FROM enrollment_reregistrationnotice n
WHERE NOT EXISTS (SELECT 1 FROM enrollment_enrollment e
                  WHERE e.resident_id = n.resident_id AND e.year = n.year AND e.status <> 'cancelled')
GROUP BY n.region_id, n.year, n.reason
"""


def reregistration_refresh() -> int:
    """须重新登记人员 not yet registered again for the notice's year, per region, year and reason."""
    from .models import ReregisterReason

    labels = dict(ReregisterReason.choices)
    with connection.cursor() as cursor:
        cursor.execute(_OUTSTANDING)
        counted = cursor.fetchall()
    rows = [Row(region=r, year=y, key=reason, label=labels.get(reason, "其他原因"), count=n)
            for r, y, reason, n in counted]
    return replace(REREGISTRATION, rows)
