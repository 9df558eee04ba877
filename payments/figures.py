"""The home page's payment figures (issue 12): payments per day and per channel over the last
30 days up to the business date, per region — counted from the ledger by one grouped
statement on the (region, paid_on, channel) index and stored in core's summary
(core.figures), refreshed by the engine every few minutes."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Count, Sum

from core import clock
from core.figures import Row, replace

from .models import Channel, Payment

GROUP = "payments_daily"
DAYS = 30


def window(today=None):
    """The first and last day the figures cover: 30 days ending on the business date."""
    today = today or clock.today()
    return today - timedelta(days=DAYS - 1), today


def refresh(today=None) -> int:
    """Recount the payments (money in: kind 缴费, applied or duplicate) of the window."""
    first, last = window(today)
    labels = dict(Channel.choices)
    counted = (Payment.objects.filter(kind=Payment.Kind.PAYMENT, paid_on__gte=first, paid_on__lte=last)
               .values_list("region_id", "paid_on", "channel").annotate(n=Count("id"), total=Sum("amount"))
               .order_by())
    rows = [Row(region=region, day=day, key=channel, label=labels.get(channel, "其他渠道"), count=n, amount=total)
            for region, day, channel, n, total in counted]
    return replace(GROUP, rows)
