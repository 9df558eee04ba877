"""The home page's enrollment figures (issue 12): per region and benefit year, how many are
registered (paid included) and how many have paid.  Refreshed by the engine (a Celery beat task,
enrollment.tasks.refresh_enrollment_figures) with one set-based statement, read by the home page
as a few rows — never a COUNT over the whole enrollment table per page view."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection, transaction

from core import clock

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
