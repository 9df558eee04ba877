"""The employee accounts keep room on their pages for the December batch's balance update of
every account in a chunk (migration 0005): each account's update is in place (HOT), no
index entry added — counted by PostgreSQL for this transaction."""

from decimal import Decimal

import pytest
from django.db import connection

from family_pool.accounts import post_many
from family_pool.models import AccountEntry, EmployeeAccount

pytestmark = pytest.mark.django_db


def counters() -> tuple[int, int]:
    with connection.cursor() as cur:
        cur.execute("SELECT pg_stat_get_xact_tuples_updated(c.oid), pg_stat_get_xact_tuples_hot_updated(c.oid) "
                    "FROM pg_class c WHERE c.relname = 'family_pool_employeeaccount'")
        return cur.fetchone()


def test_the_table_has_fillfactor_50():
    with connection.cursor() as cur:
        cur.execute("SELECT reloptions FROM pg_class WHERE relname = 'family_pool_employeeaccount'")
        assert cur.fetchone()[0] == ["fillfactor=50"]


def test_every_account_of_a_chunk_is_updated_in_place():
    n = 400  # some 8 full pages at fillfactor 50 (16 at the old layout's 50 a page: 4 pages nearly full)
    EmployeeAccount.objects.bulk_create(
        EmployeeAccount(id_number=f"3101011980010{i:05d}", name=f"职工{i}", insured_region="310000",
                        historical_balance=Decimal("1000.00"), current_balance=Decimal("0.00"))
        for i in range(n))
    ids = sorted(EmployeeAccount.objects.values_list("pk", flat=True))
    before = counters()
    post_many([(pk, AccountEntry.Bucket.HISTORICAL, AccountEntry.Kind.POOL_PREMIUM, Decimal("-355.00"), "测试")
               for pk in ids], actor="test")
    updated, hot = (a - b for a, b in zip(counters(), before))
    assert (updated, hot) == (n, n)
    assert set(EmployeeAccount.objects.values_list("historical_balance", flat=True)) == {Decimal("645.00")}
