"""References checked by statement (core/db_references.py): every case a foreign key refuses is
refused the same way (SQLSTATE 23503, nothing written), on scratch tables and on the tables
wired to it (the payments ledger, the employee accounts' entries); a referenced row a
transaction names is locked as a foreign key's check locks it; and an update that leaves the
columns alone fires nothing."""

from __future__ import annotations

import psycopg
import pytest
from django.db import IntegrityError, connection, transaction

from core.db_references import reference_triggers


def sql(query: str, params=None):
    with connection.cursor() as cur:
        cur.execute(query, params)
        return cur.fetchall() if cur.description else None


def refused(query: str, detail: str, params=None) -> None:
    with pytest.raises(IntegrityError) as caught, transaction.atomic():
        sql(query, params)
    assert caught.value.__cause__.sqlstate == "23503"  # foreign_key_violation, as a constraint says
    assert detail in str(caught.value.__cause__.diag.message_detail)


SCRATCH = """
CREATE TABLE ref_parent (id bigint PRIMARY KEY, code text UNIQUE NOT NULL);
CREATE TABLE ref_child (id bigint PRIMARY KEY, parent_id bigint, parent_code text, note text);
"""
REFERENCES = [("ref_child", "parent_id", "ref_parent", "id"), ("ref_child", "parent_code", "ref_parent", "code")]


@pytest.fixture
def scratch(db):
    create, _ = reference_triggers("scratch", REFERENCES)
    sql(SCRATCH + create)
    sql("INSERT INTO ref_parent VALUES (1, 'a'), (2, 'b'), (3, 'c')")


def test_rows_naming_existing_keys_are_written(scratch):
    sql("INSERT INTO ref_child VALUES (10, 1, 'a', ''), (11, 1, 'b', ''), (12, NULL, NULL, ''), (13, 2, 'a', '')")
    assert sql("SELECT count(*) FROM ref_child") == [(4,)]


def test_a_statement_naming_one_missing_key_writes_nothing(scratch):
    refused("INSERT INTO ref_child VALUES (10, 1, 'a', ''), (11, 9, 'b', '')",
            'Key (parent_id)=(9) is not present in table "ref_parent".')
    refused("INSERT INTO ref_child VALUES (10, 1, 'zz', '')",
            'Key (parent_code)=(zz) is not present in table "ref_parent".')
    assert sql("SELECT count(*) FROM ref_child") == [(0,)]


def test_changing_a_column_to_a_missing_key_is_refused_and_to_an_existing_one_allowed(scratch):
    sql("INSERT INTO ref_child VALUES (10, 1, 'a', '')")
    refused("UPDATE ref_child SET parent_id = 9 WHERE id = 10",
            'Key (parent_id)=(9) is not present in table "ref_parent".')
    sql("UPDATE ref_child SET parent_id = 3, parent_code = 'c' WHERE id = 10")
    sql("UPDATE ref_child SET parent_id = NULL WHERE id = 10")
    assert sql("SELECT parent_id, parent_code FROM ref_child") == [(None, "c")]


def test_deleting_or_rekeying_a_named_row_is_refused_an_unnamed_one_allowed(scratch):
    sql("INSERT INTO ref_child VALUES (10, 1, 'b', '')")
    refused("DELETE FROM ref_parent WHERE id = 1", 'Key (id)=(1) is still referenced from table "ref_child".')
    refused("DELETE FROM ref_parent WHERE id IN (2, 3)",
            'Key (code)=(b) is still referenced from table "ref_child".')
    refused("UPDATE ref_parent SET id = 7 WHERE id = 1", 'Key (id)=(1) is still referenced from table "ref_child".')
    refused("UPDATE ref_parent SET code = 'x' WHERE id = 2",
            'Key (code)=(b) is still referenced from table "ref_child".')
    sql("UPDATE ref_parent SET code = 'cc', id = 30 WHERE id = 3")
    sql("DELETE FROM ref_parent WHERE id = 30")
    assert sql("SELECT id, code FROM ref_parent ORDER BY id") == [(1, "a"), (2, "b")]


def test_an_update_leaving_the_columns_alone_fires_no_check(scratch):
    sql("INSERT INTO ref_child VALUES (10, 1, 'a', '')")
    # the parent row goes without the trigger knowing: a foreign key would have refused the
    # delete; the point here is that an update not touching the columns does not look at all
    sql("ALTER TABLE ref_parent DISABLE TRIGGER USER; DELETE FROM ref_parent WHERE id = 1; "
        "ALTER TABLE ref_parent ENABLE TRIGGER USER")
    sql("UPDATE ref_child SET note = 'changed' WHERE id = 10")
    sql("UPDATE ref_child SET parent_id = 1 WHERE id = 10")  # set, not changed: not checked either
    refused("UPDATE ref_child SET parent_id = 2, parent_code = 'zz' WHERE id = 10",
            'Key (parent_code)=(zz) is not present in table "ref_parent".')


def test_the_ledger_and_the_account_entries_have_triggers_not_constraints(db):
    constrained = sql("SELECT conrelid::regclass::text, conname FROM pg_constraint WHERE contype = 'f' "
                      "AND conrelid::regclass::text IN ('payments_payment', 'family_pool_accountentry')")
    assert constrained == []
    names = sql("SELECT tgrelid::regclass::text, tgname FROM pg_trigger WHERE NOT tgisinternal "
                "AND (tgname ~ '^(payments|family_pool)_(ref|keep)') ORDER BY 1, 2")
    assert names == sorted([
        ("auth_user", "payments_referenced_id_delete"), ("auth_user", "payments_keep_id"),
        ("enrollment_enrollment", "payments_referenced_id_delete"), ("enrollment_enrollment", "payments_keep_id"),
        ("enrollment_gaprepair", "payments_referenced_id_delete"), ("enrollment_gaprepair", "payments_keep_id"),
        ("family_pool_accountentry", "family_pool_ref_account_id"),
        ("family_pool_accountentry", "family_pool_refs_insert"),
        ("family_pool_employeeaccount", "family_pool_referenced_id_delete"),
        ("family_pool_employeeaccount", "family_pool_keep_id"),
        ("payments_payment", "payments_ref_enrollment_id"), ("payments_payment", "payments_ref_gap_repair_id"),
        ("payments_payment", "payments_ref_recorded_by_id"), ("payments_payment", "payments_ref_refund_of_id"),
        ("payments_payment", "payments_ref_region_id"), ("payments_payment", "payments_referenced_id_delete"),
        ("payments_payment", "payments_keep_id"), ("payments_payment", "payments_refs_insert"),
        ("policy_region", "payments_referenced_code_delete"), ("policy_region", "payments_keep_code"),
    ])


PAYMENT = """INSERT INTO payments_payment (kind, outcome, channel, txn_id, enrollment_id, id_number, name,
  region_id, year, amount, paid_at, paid_on, payer_kind, payer_id, payer_name, request_hash, recorded_at, actor, note)
  VALUES ('payment', 'applied', 'wechat', %s, %s, '110101199001011237', '张三', %s, 2026, 1, now(), current_date,
          'self', '', '', '', now(), '', '')"""


def test_a_ledger_row_naming_a_missing_enrollment_or_region_is_refused(db):
    refused(PAYMENT, 'Key (enrollment_id)=(987654321) is not present in table "enrollment_enrollment".',
            ["t1", 987654321, "141100"])
    assert sql("SELECT count(*) FROM payments_payment") == [(0,)]


def test_an_entry_naming_a_missing_account_is_refused(db):
    refused("INSERT INTO family_pool_accountentry (account_id, bucket, kind, amount, created_at, actor, note) "
            "VALUES (987654321, 'historical', 'import', 1, now(), '', '')",
            'Key (account_id)=(987654321) is not present in table "family_pool_employeeaccount".')
    assert sql("SELECT count(*) FROM family_pool_accountentry") == [(0,)]


@pytest.mark.django_db(transaction=True)
def test_a_named_row_is_locked_as_a_foreign_key_locks_it():
    """While a transaction's statement names a parent row, another transaction cannot delete it
    (it waits, here until its lock timeout), as with a foreign key's FOR KEY SHARE."""
    create, drop = reference_triggers("scratch", REFERENCES)
    sql(SCRATCH + create)
    try:
        sql("INSERT INTO ref_parent VALUES (1, 'a'), (2, 'b')")
        with transaction.atomic():
            sql("INSERT INTO ref_child VALUES (10, 1, NULL, '')")
            params = connection.get_connection_params()
            other = psycopg.connect(**{k: v for k, v in params.items() if k not in ("cursor_factory", "context")},
                                    autocommit=True)
            try:
                with pytest.raises(psycopg.errors.LockNotAvailable):
                    other.execute("SET lock_timeout = '300ms'; DELETE FROM ref_parent WHERE id = 1")
                other.execute("SET lock_timeout = '300ms'; DELETE FROM ref_parent WHERE id = 2")  # not named
            finally:
                other.close()
        assert sql("SELECT id FROM ref_parent") == [(1,)]
    finally:
        sql("DROP TABLE IF EXISTS ref_child, ref_parent")
