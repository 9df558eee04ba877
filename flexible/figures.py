"""The home page's flexible-employment figures (issue 13): enrollments per region, benefit year
and status (已登记 / 已缴费 / 已注销) with the amounts due — one grouped statement over the
(region, year, status) index, stored in core's summary (core.figures) by the engine's refresh.
Wired by adding ``"flexible.figures.refresh"`` to the setting FIGURE_REFRESHERS."""

from __future__ import annotations

from django.db.models import Count, Sum

from core.figures import Row, replace

from .models import FlexibleEnrollment, FlexibleStatus

GROUP = "flexible_enrollments"


def refresh() -> int:
    labels = dict(FlexibleStatus.choices)
    counted = (FlexibleEnrollment.objects.values_list("region_id", "year", "status")
               .annotate(n=Count("id"), total=Sum("amount_due")).order_by())
    rows = [Row(region=region, year=year, key=status, label=labels[status], count=n, amount=total)
            for region, year, status, n, total in counted]
    return replace(GROUP, rows)
