"""Working days (工作日): the bureau's holiday calendar, seeded from chinesecalendar.

chinesecalendar only knows the years the State Council has announced; for a later year a
policy administrator enters the arrangement in the admin (工作日日历).  The database holds,
per known year, only the exceptions to the Monday–Friday rule (weekday holidays and working
weekends).  A date in a year without a calendar raises ``WorkdayUnknown`` — a clear error for
the caseworker, never a guess and never a crash.

API
- ``is_workday(d) -> bool``, ``add_workdays(d, n) -> date``, ``known_years() -> list[int]``:
  each reads the current calendar (one small query that checks the cache is current).
- ``calendar() -> WorkdayCalendar``: the same as a plain value with no ORM, for rules and for
  loops over many dates (one check, then pure lookups).
- ``seed_from_library(years, actor=...)``: what ``manage.py seed_workdays`` and the data
  migration run; idempotent.

The cache is per process.  It is checked on every ``calendar()`` call against a fingerprint the
database keeps for free: the newest audit-event id of both tables (pghistory's triggers write an
event for every insert, update and delete, bulk and raw SQL included) and their row counts.  So
a year entered in the admin is seen at once by every process (web workers, Celery), and a rolled
back transaction's rows never outlive it in the cache.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import chinese_calendar
from django.apps import apps as global_apps
from django.db import connection, transaction

from core.audit import audit_context

_ONE_DAY = dt.timedelta(days=1)
MANUAL_SOURCE = "经办人录入"


class WorkdayUnknown(ValueError):
    """The date's year has no holiday calendar yet."""

    def __init__(self, day: dt.date):
        self.day = day
        self.year = day.year
        super().__init__(
            f"{day.year} 年的节假日安排尚未录入（国务院公布后请在“工作日日历”中录入），"
            f"无法判断 {day:%Y-%m-%d} 是否为工作日")


class LibraryYearUnknown(ValueError):
    """chinesecalendar has no data for the year (not announced when the library was released)."""

    def __init__(self, year: int):
        self.year = year
        super().__init__(
            f"{library_version()} 没有 {year} 年的节假日安排（国务院尚未公布，或该库未升级）："
            f"请升级 chinesecalendar，或在“工作日日历”中手工录入 {year} 年")


def _weekday_rule(d: dt.date) -> bool:
    return d.weekday() < 5


@dataclass(frozen=True, eq=False)
class WorkdayCalendar:
    """The known years and their exceptions to the Monday–Friday rule, as plain values."""

    years: frozenset[int]
    exceptions: Mapping[dt.date, bool] = field(default_factory=dict)

    def is_workday(self, d: dt.date) -> bool:
        if d.year not in self.years:
            raise WorkdayUnknown(d)
        flag = self.exceptions.get(d)
        return _weekday_rule(d) if flag is None else flag

    def add_workdays(self, d: dt.date, n: int) -> dt.date:
        """The n-th working day after ``d`` (``d`` itself does not count; n = 0 gives ``d``)."""
        if n < 0:
            raise ValueError("工作日天数不能为负数")
        while n:
            d += _ONE_DAY
            if self.is_workday(d):
                n -= 1
        return d

    def known_years(self) -> list[int]:
        return sorted(self.years)


# --- reading the database, cached per process ----------------------------------------------

_cache: tuple[tuple, WorkdayCalendar] | None = None


def _tables() -> tuple[str, str, str, str]:
    get = global_apps.get_model
    return (get("core", "CalendarDayEvent")._meta.db_table,
            get("core", "WorkdayCalendarYearEvent")._meta.db_table,
            get("core", "CalendarDay")._meta.db_table,
            get("core", "WorkdayCalendarYear")._meta.db_table)


def _fingerprint() -> tuple:
    day_events, year_events, days, years = (connection.ops.quote_name(t) for t in _tables())
    with connection.cursor() as cur:
        cur.execute(f"SELECT (SELECT max(pgh_id) FROM {day_events}), (SELECT max(pgh_id) FROM {year_events}),"
                    f" (SELECT count(*) FROM {days}), (SELECT count(*) FROM {years})")
        return tuple(cur.fetchone())


def _load() -> WorkdayCalendar:
    Year = global_apps.get_model("core", "WorkdayCalendarYear")
    Day = global_apps.get_model("core", "CalendarDay")
    years = frozenset(Year.objects.values_list("year", flat=True))
    exceptions = dict(Day.objects.values_list("date", "is_workday"))
    return WorkdayCalendar(years=years, exceptions=MappingProxyType(exceptions))


def calendar() -> WorkdayCalendar:
    """The current calendar (reloaded only when the tables changed since the last call)."""
    global _cache
    fingerprint = _fingerprint()
    cached = _cache
    if cached is not None and cached[0] == fingerprint:
        return cached[1]
    cal = _load()
    _cache = (fingerprint, cal)
    return cal


def clear_cache() -> None:
    global _cache
    _cache = None


def is_workday(d: dt.date) -> bool:
    return calendar().is_workday(d)


def add_workdays(d: dt.date, n: int) -> dt.date:
    return calendar().add_workdays(d, n)


def known_years() -> list[int]:
    return calendar().known_years()


# --- validation of a year entered by hand (the admin) ----------------------------------------

def check_days(year: int | None, days: Iterable[dt.date]) -> list[str]:
    """Problems with a year's exception days, in plain Chinese (empty when they are fine)."""
    problems = []
    seen = set()
    for d in days:
        if year is not None and d.year != year:
            problems.append(f"{d:%Y-%m-%d} 不在 {year} 年内，请在 {d.year} 年的日历中录入")
        if d in seen:
            problems.append(f"{d:%Y-%m-%d} 录入了两次")
        seen.add(d)
    return problems


# --- seeding from chinesecalendar ---------------------------------------------------------------

def library_version() -> str:
    return f"chinesecalendar {chinese_calendar.__version__}"


def library_years() -> list[int]:
    """The years chinesecalendar has data for."""
    return sorted({d.year for d in chinese_calendar.holidays})


def _chinese_name(d: dt.date) -> str:
    _, holiday = chinese_calendar.get_holiday_detail(d)
    if holiday is None:
        return ""
    try:
        return chinese_calendar.Holiday(holiday).chinese
    except ValueError:
        return str(holiday)


def library_exceptions(year: int) -> list[tuple[dt.date, bool, str]]:
    """The year's exceptions to the Monday–Friday rule according to chinesecalendar:
    (date, is_workday, name), e.g. (2026-10-01, False, "国庆节"), (2026-10-10, True, "国庆节调休上班")."""
    try:
        chinese_calendar.is_workday(dt.date(year, 1, 1))
    except NotImplementedError:
        raise LibraryYearUnknown(year) from None
    rows = []
    d, end = dt.date(year, 1, 1), dt.date(year, 12, 31)
    while d <= end:
        flag = chinese_calendar.is_workday(d)
        if flag != _weekday_rule(d):
            name = _chinese_name(d)
            rows.append((d, flag, f"{name}调休上班" if flag else (name or "放假")))
        d += _ONE_DAY
    return rows


@dataclass
class SeedSummary:
    created: dict[int, int] = field(default_factory=dict)  # year -> exception days written
    unchanged: list[int] = field(default_factory=list)  # already held, same as the library
    differs: list[int] = field(default_factory=list)  # already held, edited (left alone)

    def lines(self) -> list[str]:
        out = [f"{y} 年：已录入 {n} 个调整日（{library_version()}）" for y, n in sorted(self.created.items())]
        out += [f"{y} 年：已存在，与 {library_version()} 一致，未改动" for y in self.unchanged]
        out += [f"{y} 年：已存在，与 {library_version()} 不一致（经办人修改过），未改动" for y in self.differs]
        return out


def seed_from_library(years: Iterable[int], *, actor=None, Year=None, Day=None) -> SeedSummary:
    """Write the years chinesecalendar knows that the database does not hold yet.

    All or nothing: a year the library does not know raises ``LibraryYearUnknown`` before
    anything is written.  A year already held is never changed (a caseworker may have corrected
    it); it is reported as unchanged or differing.  ``Year``/``Day`` are the models (the data
    migration passes its historical ones)."""
    Year = Year or global_apps.get_model("core", "WorkdayCalendarYear")
    Day = Day or global_apps.get_model("core", "CalendarDay")
    wanted = {y: library_exceptions(y) for y in sorted(set(years))}
    summary = SeedSummary()
    with transaction.atomic(), audit_context(actor, action="seed_workdays"):
        held = {y.year: y for y in Year.objects.filter(year__in=wanted).select_for_update().order_by("year")}
        for year, rows in wanted.items():
            if year in held:
                stored = set(Day.objects.filter(year=held[year]).values_list("date", "is_workday"))
                same = stored == {(d, flag) for d, flag, _ in rows}
                (summary.unchanged if same else summary.differs).append(year)
                continue
            y = Year.objects.create(year=year, source=library_version(),
                                    notes="由 chinesecalendar 导入：国务院办公厅公布的节假日安排")
            Day.objects.bulk_create([Day(year=y, date=d, is_workday=flag, name=name) for d, flag, name in rows])
            summary.created[year] = len(rows)
    return summary
