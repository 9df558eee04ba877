"""Calendar arithmetic used by the rules (pure)."""

import calendar
from datetime import date, datetime


def add_months(d: date, months: int) -> date:
    """Calendar months, clamping the day: 2025-01-31 + 1 month = 2025-02-28."""
    if months == 0:
        return d
    total = d.year * 12 + (d.month - 1) + months
    year, month0 = divmod(total, 12)
    month = month0 + 1
    last = calendar.monthrange(year, month)[1]
    return date(year, month, d.day if d.day <= last else last)


def shift_years(d: date, years: int) -> date:
    """Move a date by whole years; 29 Feb becomes 28 Feb in a common year."""
    try:
        return d.replace(year=d.year + years)
    except ValueError:  # 29 February into a common year
        return d.replace(year=d.year + years, day=28)


def shift_datetime_years(dt: datetime, years: int) -> datetime:
    moved = shift_years(dt.date(), years)
    return dt.replace(year=moved.year, month=moved.month, day=moved.day)


def age_on(birth: date, on: date) -> int:
    """Whole years of age on a day (a person born 29 Feb turns a year older on 1 Mar)."""
    years = on.year - birth.year
    if (on.month, on.day) < (birth.month, birth.day):
        years -= 1
    return years
