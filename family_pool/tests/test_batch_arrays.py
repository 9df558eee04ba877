"""``payments.bulk.pg_array``: the array literals the batch passes instead of Python lists
read back by PostgreSQL exactly as the values went in."""

from decimal import Decimal

import pytest
from django.db import connection

from payments.bulk import pg_array

pytestmark = pytest.mark.django_db


def back(sql_type: str, values):
    with connection.cursor() as cur:
        cur.execute(f"SELECT %s::{sql_type}[]", [pg_array(values)])
        return cur.fetchone()[0]


def test_ids_amounts_and_strings_round_trip():
    assert back("bigint", [3, 1, 2**40]) == [3, 1, 2**40]
    assert back("bigint", []) == []
    assert back("numeric", [Decimal("-355.00"), Decimal("0.01"), Decimal("1E+2"), None]) == [
        Decimal("-355.00"), Decimal("0.01"), Decimal("100"), None]
    awkward = ["pool-2025-7", 'a"b', "c\\d", "e,f", "{g}", "NULL", "", " 空 格 ", None]
    assert back("text", awkward) == awkward
    assert pg_array(x for x in (1, 2)) == "{1,2}"  # any iterable
