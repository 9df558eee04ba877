"""The channel API's dues query on its short path: one ID-number parse, no address-code
lookup (a warning the API never shows), the identities read prepared — and the same answer."""

from __future__ import annotations

import pytest
from django.db import connection

from enrollment import idnumbers
from enrollment.tests.support import number

from .test_api import business_date, call, li  # noqa: F401 (fixtures)

pytestmark = pytest.mark.usefixtures("policies")


def test_a_number_parsed_without_the_place_check_is_the_same_number_without_the_warning():
    unknown_place = idnumbers.make_number("99999919800101124")
    full = idnumbers.parse(unknown_place)
    quick = idnumbers.parse(unknown_place, place_check=False)
    assert full.warnings == ("地址码 999999 在出生年份无记录（可能为后设或已撤销的区划，仅提示）",)
    assert (quick.number, quick.birth_date, quick.sex, quick.warnings) == (
        full.number, full.birth_date, full.sex, ())
    for bad in (unknown_place[:-1] + ("0" if unknown_place[-1] != "0" else "1"), "99999919801301124"[:17] + "1"):
        with pytest.raises(idnumbers.IdNumberError):
            idnumbers.parse(bad, place_check=False)


def test_dues_parse_the_number_once_and_never_look_up_its_place(call, li, monkeypatch):
    parsed = []
    real_parse = idnumbers.parse

    def counting(text, **kw):
        parsed.append(kw)
        return real_parse(text, **kw)

    def no_lookup(code, year):
        raise AssertionError("address-code lookup on the API path")

    monkeypatch.setattr(idnumbers, "parse", counting)
    monkeypatch.setattr(idnumbers, "_place_known", no_lookup)
    resp = call("get", "/api/v1/dues", id_number=li.id_number.lower(), name="李四", year="2026")
    assert resp.status_code == 200
    assert resp.json() == {"name": "李四", "region": "141100", "year": 2026, "category": "resident",
                           "amount_due": "400.00", "status": "unpaid"}
    assert parsed == [{"place_check": False}]
    resp = call("get", "/api/v1/dues", id_number=number("141102", "19800501", "999"), name="李四", year="2026")
    assert (resp.status_code, resp.json()["error"]["code"]) == (404, "not_registered")
    resp = call("get", "/api/v1/dues", id_number=li.id_number[:-1] + "Y", name="李四", year="2026")
    assert (resp.status_code, resp.json()["error"]["code"]) == (422, "invalid_input")


def test_dues_read_the_identities_as_a_prepared_statement(call, li):
    for _ in range(connection.connection.prepare_threshold + 1 if connection.connection else 6):
        assert call("get", "/api/v1/dues", id_number=li.id_number, name="李四", year="2026").status_code == 200
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s",
                    ["%subsidies_assistanceidentity%"])
        assert cur.fetchone()[0] == 1
