"""The roster's ID number check (a plain number taken without the full parse) answers what
enrollment's ``check_id`` answers — the number, or the same errors — over many numbers,
valid and faulty in every way the parse knows."""

from __future__ import annotations

import random
from datetime import date, timedelta

from stdnum.cn import ric

from enrollment.imports.common import check_id
from enrollment.spreadsheet import NUMERIC_CELL
from subsidies.roster import _id_number

TODAY = date(2025, 11, 10)
AREAS = ["141102", "141181", "110105", "330203", "999999", "000000", "632801"]


def _number(rng: random.Random, born: str) -> str:
    body = f"{rng.choice(AREAS)}{born}{rng.randrange(1000):03d}"
    return body + ric.calc_check_digit(body + "0")


def _variants(rng: random.Random, n: int):
    for _ in range(n):
        born = date(1870, 1, 1) + timedelta(days=rng.randrange(60000))  # 1870 … 2034
        good = _number(rng, born.strftime("%Y%m%d"))
        kind = rng.randrange(14)
        if kind < 5:
            yield good
        elif kind == 5:  # wrong check digit
            yield good[:17] + rng.choice([d for d in "0123456789X" if d != good[17]])
        elif kind == 6:  # lower-case x, spaces, dashes, full-width digits: normalised by check_id
            yield rng.choice([good.replace("X", "x"), f" {good} ", good[:6] + "-" + good[6:],
                              good[:6] + " " + good[6:],
                              good.translate(str.maketrans("0123456789", "０１２３４５６７８９"))])
        elif kind == 7:  # impossible dates
            body = f"{rng.choice(AREAS)}{rng.choice(['19990230', '20000230', '19991301', '19990000', '20010229', '18991232'])}" \
                   f"{rng.randrange(1000):03d}"
            yield body + ric.calc_check_digit(body + "0")
        elif kind == 8:  # wrong lengths, old 15-digit numbers, empty
            yield rng.choice([good[:17], good + "1", good[:6] + good[8:17], "", " ", "X" * 18])
        elif kind == 9:  # Excel numbers
            yield rng.choice([NUMERIC_CELL + good, NUMERIC_CELL + "1.10105E+17", "1.10105E+17"])
        elif kind == 10:  # other digits Python calls digits
            yield good[:10] + "\u0661" + good[11:]
        elif kind == 11:  # born around the business date and the 1880 floor
            edge = rng.choice([TODAY, TODAY - timedelta(days=1), TODAY + timedelta(days=1), date(1880, 1, 1),
                               date(1879, 12, 31), date(2000, 2, 29)])
            yield _number(rng, edge.strftime("%Y%m%d"))
        elif kind == 12:  # X in the body, letters
            yield good[:5] + "X" + good[6:]
        else:
            yield good[:17] + "X" if good[17] != "X" else good[:17] + "0"


def test_the_quick_id_check_answers_what_check_id_answers_for_every_number():
    rng = random.Random(9)
    seen = {"ok": 0, "faulty": 0}
    for i, raw in enumerate(_variants(rng, 40000), 2):
        values = {"身份证号码": raw}
        mine, theirs = [], []
        got = _id_number(values, mine, i, TODAY)
        want = check_id(values, theirs, i, TODAY)
        assert got == (want.number if want is not None else None), raw
        assert [(e.row, e.column, e.reason) for e in mine] == [(e.row, e.column, e.reason) for e in theirs], raw
        seen["ok" if got else "faulty"] += 1
    assert seen["ok"] > 15000 and seen["faulty"] > 10000, seen


def test_a_missing_column_value_is_check_ids_blank_error():
    mine, theirs = [], []
    assert _id_number({}, mine, 5, TODAY) is None and check_id({}, theirs, 5, TODAY) is None
    assert [str(e) for e in mine] == [str(e) for e in theirs] == ["row 5: 身份证号码: 身份证号码为空"]
