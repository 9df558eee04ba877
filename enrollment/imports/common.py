"""What the imports share: the row error, the result, the checks of common columns."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from accounts.scoping import region_codes

from .. import idnumbers
from ..spreadsheet import has_invisible, is_numeric_cell, plain

CHUNK = 2000

# A row about a person (or record) another region holds: neither who holds it nor
# where is told, so one region's caseworker learns nothing of another's people.
HELD_ELSEWHERE = "身份证号码已由其他经办地区登记，请联系该地区经办机构或上级"
INVISIBLE_IN_NAME = "含有不可见或控制字符"


@dataclass
class RowError:
    row: int
    column: str
    reason: str

    def __str__(self) -> str:
        return f"row {self.row}: {self.column}: {self.reason}"


@dataclass
class ImportResult:
    total_rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    registered: int = 0
    already_registered: int = 0
    repriced: int = 0  # unpaid enrollments priced again (and moved) after a change
    errors: list[RowError] = field(default_factory=list)
    rejected: bool = False
    dry_run: bool = False
    rows: list = field(default_factory=list)  # parsed rows, for the admin preview

    def as_dict(self) -> dict:
        return {"rows": self.total_rows, "created": self.created, "updated": self.updated,
                "unchanged": self.unchanged, "registered": self.registered,
                "already_registered": self.already_registered,
                "invalid_rows": len({e.row for e in self.errors}), "rejected": self.rejected}


ECHO_LIMIT = 50


def echo(text, limit: int = ECHO_LIMIT) -> str:
    """A received value quoted for a message: ``repr`` of at most ``limit`` characters,
    then "…" when cut, so a 1,000-character cell never comes back whole."""
    text = str(text)
    if len(text) <= limit:
        return repr(text)
    return repr(text[:limit]) + "…"


def user_codes(user):
    return None if user is None else region_codes(user)


def check_name(values: dict, errors: list, row: int) -> str:
    name = plain(values.get("姓名", ""))
    if not name:
        errors.append(RowError(row, "姓名", "不能为空"))
    elif len(name) > 50:
        errors.append(RowError(row, "姓名", "超过 50 个字"))
    elif has_invisible(name):
        errors.append(RowError(row, "姓名", INVISIBLE_IN_NAME))
    return name


def cell_errors(table) -> list:
    """The row errors of cells over the length cap (the reader cut them)."""
    return [RowError(row, column, reason) for row, column, reason in getattr(table, "cell_errors", ())]


def check_id(values: dict, errors: list, row: int, today: date, *, place_check: bool = True):
    """The row's ID number parsed (None, with the row's error, when it is not one).
    ``place_check=False``: no address-code warning (``idnumbers.parse``), for imports that
    never show warnings; the number is accepted or refused the same either way."""
    raw = values.get("身份证号码", "")
    if is_numeric_cell(raw):
        errors.append(RowError(row, "身份证号码",
                               "单元格为数字格式，18 位号码已丢失精度；请将该列设为文本后重新导出"))
        return None
    try:
        return idnumbers.parse(raw, today=today, place_check=place_check)
    except idnumbers.IdNumberError as exc:
        errors.append(RowError(row, "身份证号码", str(exc)))
        return None


def check_region(values: dict, errors: list, row: int, regions: dict, codes) -> str | None:
    code = plain(values.get("参保地", ""))
    if not re.fullmatch(r"\d{6}", code):
        errors.append(RowError(row, "参保地", f"应为六位行政区划代码，收到 {echo(code)}"))
        return None
    if code not in regions:
        errors.append(RowError(row, "参保地", f"未知地区 {code}"))
        return None
    if codes is not None and code not in codes:
        errors.append(RowError(row, "参保地", f"{code} 不在您的经办地区内"))
        return None
    return code


def check_year(values: dict, errors: list, row: int) -> int | None:
    text = plain(values.get("参保年度", ""))
    if not text:
        return None
    if not re.fullmatch(r"\d{4}", text):
        errors.append(RowError(row, "参保年度", f"应为四位年份，收到 {echo(text)}"))
        return None
    return int(text)


def parse_date(text: str) -> date:
    """2025-06-30, and 2025/6/30 as spreadsheets save dates (ValueError otherwise); a time of
    day after it (an Excel date-time cell, "2025-06-30 08:15:00") is ignored."""
    m = re.fullmatch(r"(\d{4})[-/](\d{1,2})[-/](\d{1,2})(?:[ T]\d{1,2}:\d{2}(?::\d{2})?)?", text)
    if m is None:
        raise ValueError(text)
    return date(*map(int, m.groups()))


# A progress call under this label reports the rows found faulty so far (done = that count),
# so a live view shows the errors while the import is still going; bars ignore it.
ERRORS_SO_FAR = "错误行"


def report_errors(progress, errors, total: int) -> None:
    if progress:
        progress(ERRORS_SO_FAR, len({e.row for e in errors}), total)
