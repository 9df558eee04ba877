"""The business clock: one "today" for every decision that depends on it.

Outside production the setting ``BUSINESS_DATE`` (environment variable
``BUSINESS_DATE=YYYY-MM-DD``) pins the date, while the time of day stays real
— like a payment provider's test clock — for training, demos and acceptance
runs.  Production settings refuse to start with it set (config/settings).
Rules never read a clock: services read this one and pass dates down.
"""

from __future__ import annotations

from datetime import date, datetime

from django.conf import settings
from django.utils import timezone


def pinned_date() -> date | None:
    """The pinned business date, or None when the clock follows the real one."""
    return getattr(settings, "BUSINESS_DATE", None)


def today() -> date:
    """The business date in Asia/Shanghai."""
    return pinned_date() or timezone.localdate()


def now() -> datetime:
    """An aware datetime: the real time of day on the business date."""
    real = timezone.localtime()
    pinned = pinned_date()
    if pinned is None or pinned == real.date():
        return real
    return real.replace(year=pinned.year, month=pinned.month, day=pinned.day)
