"""Issue 8, robustness: generated spreadsheet cells through the residents import.

Every input either imports or becomes ``row N: column: reason`` errors (or, for the file as
a whole, a SpreadsheetError); never another exception, never a half-written file."""

import re
from datetime import date, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from enrollment.idnumbers import make_number
from enrollment.imports import RESIDENT_REQUIRED, import_residents
from enrollment.spreadsheet import SpreadsheetError

from .import_support import counts, csv_bytes

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("policies")]

TODAY = date(2026, 11, 1)
HEADER = [*RESIDENT_REQUIRED, "参保年度"]
LINE = re.compile(r"^row (\d+): ([^:]+): (.+)$", re.S)

any_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30)
nasty = st.sampled_from(["\x00", "\x07", "\x1b[31m", "\u200b", "\u200f", "\u202e", "\ufeff", "\r\n",
                         "=cmd|' /C calc'!A0", '"', ",", ";", "\t", " "])
names = st.one_of(st.sampled_from(["张三", "李四", "阿依古丽·买买提", "王 五", "Ｚｈａｎｇ"]),
                  any_text, st.builds(lambda a, b, c: a + b + c, any_text, nasty, any_text),
                  st.text(min_size=45, max_size=60))


@st.composite
def id_numbers(draw):
    birth = draw(st.dates(min_value=date(1900, 1, 1), max_value=TODAY + timedelta(days=400)))
    area = draw(st.sampled_from(["330203", "141102", "630102", "999999", "000000"]))
    valid = make_number(f"{area}{birth:%Y%m%d}{draw(st.integers(0, 999)):03d}")
    kind = draw(st.sampled_from(["valid", "lower", "fullwidth", "spaced", "flip", "short", "foreign",
                                 "garbage"]))
    if kind == "lower":
        return valid.lower()
    if kind == "fullwidth":
        return "".join(chr(ord(c) + 0xFEE0) if c.isdigit() else c for c in valid)
    if kind == "spaced":
        return f" {valid[:6]}-{valid[6:14]} {valid[14:]} "
    if kind == "flip":
        i = draw(st.integers(0, 17))
        return valid[:i] + str((int(valid[i]) + 1) % 10 if valid[i].isdigit() else 0) + valid[i + 1:]
    if kind == "short":
        return valid[:draw(st.integers(0, 17))]
    if kind == "foreign":
        digits = draw(st.sampled_from(["٠١٢٣٤٥٦٧٨٩", "۰۱۲۳۴۵۶۷۸۹", "०१२३४५६७८९", "⁰¹²³⁴⁵⁶⁷⁸⁹"]))
        return "".join(digits[int(c)] for c in valid[:17]) + valid[17]
    if kind == "garbage":
        return draw(any_text)
    return valid


rows = st.lists(st.tuples(
    names, id_numbers(),
    st.one_of(st.sampled_from(["本地", "外地", "本市"]), any_text),
    st.one_of(st.sampled_from(["有", "无", ""]), any_text),
    st.one_of(st.sampled_from(["", "中小学生", "大学生"]), any_text),
    st.one_of(st.sampled_from(["330200", "141100", "630100", "999999", "33020"]), any_text),
    st.sampled_from(["", "", "2025", "2026", "2027", "0000", "abcd", "20２６"]),
), min_size=1, max_size=6)


@settings(max_examples=80, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(rows=rows, skip_invalid=st.booleans())
def test_every_file_imports_or_reports_rows_and_never_half_writes(rows, skip_invalid):
    data = csv_bytes([list(r) for r in rows], header=HEADER)
    before = counts()
    try:
        result = import_residents(data, "x.csv", today=TODAY, skip_invalid=skip_invalid)
    except SpreadsheetError:
        assert counts() == before
        return
    for error in result.errors:
        m = LINE.match(str(error))
        assert m, str(error)
        assert 2 <= int(m.group(1)) <= len(rows) + 1
        assert m.group(2) in HEADER
    if result.rejected:
        assert result.errors
        assert counts() == before
    else:
        assert skip_invalid or result.errors == []
        written = counts()["Resident"] - before["Resident"]
        assert written == result.created
