"""The home page's assistance-roster figures (issue 12): how many people each certifying
department's current roster holds, per region and benefit year (identities not removed,
one person counted once per department) — one grouped statement, stored in core's summary
(core.figures), refreshed by the engine every few minutes.  What the assisted people were
actually granted (amounts, by funding source) is enrollment's figure: subsidies does not
read enrollments."""

from __future__ import annotations

from django.db.models import Count

from core.figures import Row, replace

from .departments import DEPARTMENTS
from .models import AssistanceIdentity

GROUP = "roster_identities"


def refresh() -> int:
    counted = (AssistanceIdentity.objects.filter(removed_at__isnull=True)
               .values_list("region_id", "year", "department")
               .annotate(n=Count("id_number", distinct=True)).order_by())
    rows = [Row(region=region, year=year, key=department or "-",
                label=DEPARTMENTS.get(department, "未注明认定部门") if department else "未注明认定部门", count=n)
            for region, year, department, n in counted]
    return replace(GROUP, rows)
