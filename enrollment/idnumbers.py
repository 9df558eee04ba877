"""Resident identity card numbers (居民身份证号码, GB 11643); pure.

Validated with python-stdnum's ``cn.ric`` pieces: 18 characters, the check
digit, a real birth date.  The six-digit address code is *not* a reason to
reject: a real number carries the code of where the card was first issued,
which may be newer than the birth year (a Xiaoyi resident born in 1990 holds
141181..., a code from 2003) or since abolished; that is only a warning.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache

from stdnum.cn import ric
from stdnum.exceptions import InvalidComponent


_SHAPE = re.compile(r"[0-9]{17}[0-9X]")


class IdNumberError(ValueError):
    """The number is not a valid identity card number; the message says why (Chinese)."""


@dataclass(frozen=True)
class IdNumber:
    number: str
    birth_date: date
    sex: str  # "M" / "F" (odd / even 17th digit)
    warnings: tuple[str, ...] = field(default=())


def normalise(text) -> str:
    """Full-width digits to ASCII, spaces and dashes removed, x upper-cased."""
    if text is None:
        return ""
    s = str(text)
    if not s.isascii():  # ASCII is its own NFKC form
        s = unicodedata.normalize("NFKC", s)
    return "".join(s.split()).replace("-", "").upper()  # split(): the characters isspace() names


def parse(text, *, today: date | None = None, place_check: bool = True) -> IdNumber:
    """The number checked (length, digits, check digit, birth date); ``warnings`` names an
    address code unknown in the birth year.  ``place_check=False`` leaves that warning out
    (``warnings`` empty): the lookup scans python-stdnum's table of codes (about 200 µs when
    the (code, year) pair is not cached yet), and callers that never show warnings — the
    JSON API — need not pay for it.  The number is accepted or refused the same either way."""
    number = normalise(text)
    if not number:
        raise IdNumberError("身份证号码为空")
    if len(number) != 18:
        raise IdNumberError(f"身份证号码应为 18 位，实为 {len(number)} 位")
    # ASCII only: isdigit() also takes Arabic-Indic, Devanagari, superscript digits...
    if not _SHAPE.fullmatch(number):
        raise IdNumberError("身份证号码前 17 位应为数字，末位为数字或 X")
    if ric.calc_check_digit(number) != number[17]:
        raise IdNumberError("身份证号码校验位不正确")
    try:  # ric.get_birth_date's reading, without its clean-up of a number already clean
        birth = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise IdNumberError(f"身份证号码中的出生日期 {number[6:14]} 不存在") from None
    if birth.year < 1880 or (today is not None and birth > today):
        raise IdNumberError(f"身份证号码中的出生日期 {birth.isoformat()} 不合理")
    warnings = []
    if place_check and not _place_known(number[:6], number[6:10]):
        warnings.append(f"地址码 {number[:6]} 在出生年份无记录（可能为后设或已撤销的区划，仅提示）")
    sex = "M" if int(number[16]) % 2 else "F"
    return IdNumber(number=number, birth_date=birth, sex=sex, warnings=tuple(warnings))


@lru_cache(maxsize=65536)
def _place_known(code: str, year: str) -> bool:
    """The address code was in use in the birth year (python-stdnum's table).

    It depends on those ten digits only; the lookup (a scan of stdnum's table
    of codes) cost 200 µs a number, most of a 100,000-row import's checks, and
    an import holds few distinct (code, year) pairs."""
    try:
        ric.get_birth_place(code + year + "0101" + "0000")
    except (InvalidComponent, KeyError, ValueError):
        return False
    return True


def mask(number: str) -> str:
    """110105********002X: area code and last four only."""
    if not number or len(number) < 10:
        return number or ""
    return number[:6] + "*" * (len(number) - 10) + number[-4:]


def make_number(prefix17: str) -> str:
    """The full number for 17 leading digits (demo data and tests)."""
    return prefix17 + ric.calc_check_digit(prefix17 + "0")
