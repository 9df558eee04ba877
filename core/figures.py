"""The home page's figures (首页统计): a summary store every app writes its own groups to.

Each app that owns a table contributes a refresher in its own ``figures`` module (a function
of no arguments that recounts its tables with one set-based statement and hands the rows to
``replace``).  Which refreshers run is the composition root's choice (the setting
``FIGURE_REFRESHERS``, dotted paths): core never imports the apps.  ``refresh_all`` runs them
(the beat task ``core.tasks.refresh_figures``, every 5 minutes); the home page reads a few
rows per group (``rows_of``), never a COUNT over millions of records per page view.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Iterable

from django.conf import settings
from django.db import transaction
from django.utils.module_loading import import_string

from . import clock
from .models import Figure

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Row:
    """One cell of a group: a region's count (and amount) under a key, for a year or a day."""

    region: str
    key: str
    label: str
    count: int = 0
    amount: Decimal | None = None
    year: int | None = None
    day: date | None = None


def replace(group: str, rows: Iterable[Row], *, now: datetime | None = None) -> int:
    """Replace every row of ``group`` with ``rows`` in one transaction (a reader sees the old
    set or the new one, never half of each).  Returns the number of rows written."""
    now = now or clock.now()
    objs = [Figure(group=group, region=r.region, year=r.year, day=r.day, key=r.key, label=r.label,
                   count=r.count, amount=r.amount, refreshed_at=now) for r in rows]
    with transaction.atomic():
        Figure.objects.filter(group=group).delete()
        Figure.objects.bulk_create(objs, batch_size=2000)
    return len(objs)


def refreshers() -> list[str]:
    return list(getattr(settings, "FIGURE_REFRESHERS", ()))


def refresh_all() -> dict[str, object]:
    """Run every configured refresher; one that fails is logged and the others still run.
    Returns {dotted path: its result, or the error's text}."""
    out: dict[str, object] = {}
    for path in refreshers():
        try:
            out[path] = import_string(path)()
        except Exception as exc:  # one broken group must not keep the others stale
            log.exception("figure refresher %s failed", path)
            out[path] = f"失败：{exc}"
    return out


def rows_of(group: str, region_codes, *, years=None, day_from: date | None = None):
    """The rows of ``group`` for ``region_codes`` (None: every region), optionally only some
    years or the days from ``day_from``; ordered by region, year, day, key."""
    qs = Figure.objects.filter(group=group)
    if region_codes is not None:
        qs = qs.filter(region__in=sorted(region_codes))
    if years is not None:
        qs = qs.filter(year__in=list(years))
    if day_from is not None:
        qs = qs.filter(day__gte=day_from)
    return list(qs.order_by("region", "year", "day", "key"))


def refreshed_at(rows) -> datetime | None:
    return max((r.refreshed_at for r in rows), default=None)
