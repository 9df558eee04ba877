"""The references of identities, the difference report and owed refunds to their roster import
and region are checked by statement-level triggers (migration 0007), not foreign keys: each
case a foreign key refused is refused the same way (IntegrityError, nothing written), and a
roster import's rows all name a roster import and region that exist."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.models import ProtectedError
from django.utils import timezone

from enrollment.tests.support import number, person, register_and_pay
from subsidies.models import AssistanceIdentity, OwedRefund, RosterChange, RosterImport
from subsidies.tests.test_roster import run

pytestmark = pytest.mark.usefixtures("policies")

STAMP = datetime(2026, 1, 1, tzinfo=timezone.get_current_timezone())
NUMBER = number("141102", "19800501", "013")


def roster_import(region="141100") -> RosterImport:
    return RosterImport.objects.create(region_id=region, year=2026, department="civil_affairs", file_name="名单.csv")


def identity(**kw) -> AssistanceIdentity:
    values = {"id_number": NUMBER, "name": "李四", "region_id": "141100", "year": 2026, "identity": "dibao",
              "department": "civil_affairs", "certified_on": date(2025, 6, 1)} | kw
    return AssistanceIdentity.objects.create(**values)


def refused(write, detail: str) -> None:
    with pytest.raises(IntegrityError) as caught, transaction.atomic():
        write()
    assert caught.value.__cause__.sqlstate == "23503"  # foreign_key_violation, as a constraint says
    assert detail in str(caught.value.__cause__.diag.message_detail)


def sql(query: str, params=None) -> None:
    with connection.cursor() as cur:
        cur.execute(query, params)


def test_the_columns_have_no_constraint_but_a_statement_trigger():
    with connection.cursor() as cur:
        cur.execute("SELECT conrelid::regclass::text, a.attname FROM pg_constraint c JOIN pg_attribute a "
                    "ON a.attrelid = c.conrelid AND a.attnum = ANY(c.conkey) WHERE c.contype = 'f' "
                    "AND c.conrelid::regclass::text LIKE 'subsidies_%%' ORDER BY 1, 2")
        constrained = cur.fetchall()
        cur.execute("SELECT tgrelid::regclass::text, tgname FROM pg_trigger WHERE tgname LIKE 'subsidies_ref%%' "
                    "ORDER BY 1, 2")
        triggers = cur.fetchall()
    assert constrained == [("subsidies_owedrefund", "enrollment_id"), ("subsidies_rosterimport", "imported_by_id"),
                           ("subsidies_rosterimport", "region_id"), ("subsidies_rosterimport", "run_id")]
    assert triggers == [(table, name) for table in ("policy_region", "subsidies_assistanceidentity",
                                                    "subsidies_owedrefund", "subsidies_rosterchange",
                                                    "subsidies_rosterimport")
                        for name in ((f"subsidies_referenced_delete", "subsidies_referenced_update")
                                     if table in ("policy_region", "subsidies_rosterimport")
                                     else ("subsidies_refs_insert", "subsidies_refs_update"))]


def test_an_identity_of_an_unknown_region_or_roster_import_is_refused_and_nothing_written():
    imp = roster_import()
    refused(lambda: identity(region_id="999999"), "Key (region_id)=(999999) is not present in table \"policy_region\"")
    refused(lambda: identity(roster_id=imp.pk + 1000), f"Key (roster_id)=({imp.pk + 1000}) is not present")
    refused(lambda: identity(roster=imp, removed_at=STAMP, removed_by_id=imp.pk + 7),
            f"Key (removed_by_id)=({imp.pk + 7}) is not present")
    assert AssistanceIdentity.objects.count() == 0
    ok = identity(roster=imp)
    refused(lambda: AssistanceIdentity.objects.filter(pk=ok.pk).update(region_id="999998"),
            "Key (region_id)=(999998)")
    refused(lambda: AssistanceIdentity.objects.filter(pk=ok.pk).update(roster_id=imp.pk + 3),
            f"Key (roster_id)=({imp.pk + 3})")
    ok.refresh_from_db()
    assert (ok.region_id, ok.roster_id) == ("141100", imp.pk)


def test_one_bad_row_fails_the_whole_statement():
    imp = roster_import()
    rows = [AssistanceIdentity(id_number=number("141102", "19800501", f"{i:03d}"), name="李四", region_id="141100",
                               year=2026, identity="dibao", department="civil_affairs", roster=imp)
            for i in range(1, 4)]
    rows[1].roster_id = imp.pk + 50
    refused(lambda: AssistanceIdentity.objects.bulk_create(rows), f"Key (roster_id)=({imp.pk + 50})")
    assert AssistanceIdentity.objects.count() == 0


def test_a_roster_change_of_an_unknown_roster_import_is_refused():
    imp = roster_import()
    refused(lambda: RosterChange.objects.create(roster_id=imp.pk + 9, id_number=NUMBER, name="李四", identity="dibao",
                                                change="new"), f"Key (roster_id)=({imp.pk + 9})")
    RosterChange.objects.create(roster=imp, id_number=NUMBER, name="李四", identity="dibao", change="new")
    assert RosterChange.objects.get().roster_id == imp.pk


def test_an_owed_refund_of_an_unknown_region_or_roster_import_is_refused():
    imp = roster_import()
    li = person("141102", "19800501", name="李四")
    e = register_and_pay(li, 2026, date(2025, 11, 10), date(2025, 11, 10), "400.00")

    def owed(**kw):
        values = {"enrollment": e, "id_number": li.id_number, "name": "李四", "region_id": "141100", "year": 2026,
                  "identity": "dibao", "paid_amount": Decimal("400.00"), "due_with_assistance": Decimal("80.00"),
                  "amount": Decimal("320.00"), "roster": imp} | kw
        return OwedRefund.objects.create(**values)

    refused(lambda: owed(region_id="999999"), "Key (region_id)=(999999)")
    refused(lambda: owed(roster_id=imp.pk + 4), f"Key (roster_id)=({imp.pk + 4})")
    assert OwedRefund.objects.count() == 0
    assert owed().roster_id == imp.pk


def test_a_roster_import_or_region_still_named_cannot_go():
    imp = roster_import()
    gone = identity(roster=imp)
    with pytest.raises(ProtectedError):  # the ORM says so first, as before
        imp.delete()
    refused(lambda: sql("DELETE FROM subsidies_rosterimport WHERE id = %s", [imp.pk]),
            f"Key (id)=({imp.pk}) is still referenced from table \"subsidies_assistanceidentity\"")
    refused(lambda: sql("UPDATE subsidies_rosterimport SET id = id + 100 WHERE id = %s", [imp.pk]),
            f"Key (id)=({imp.pk}) is still referenced")
    refused(lambda: sql("DELETE FROM policy_region WHERE code = '141100'"),
            "Key (code)=(141100) is still referenced from table \"subsidies_assistanceidentity\"")
    assert RosterImport.objects.filter(pk=imp.pk).exists()
    # named only as the remover of an identity
    other = roster_import()
    AssistanceIdentity.objects.filter(pk=gone.pk).update(removed_at=STAMP, removed_by=other)
    refused(lambda: sql("DELETE FROM subsidies_rosterimport WHERE id = %s", [other.pk]),
            f"Key (id)=({other.pk}) is still referenced from table \"subsidies_assistanceidentity\"")
    # a difference report line alone: the ORM deletes it with its import (CASCADE); raw SQL may not
    third = roster_import()
    RosterChange.objects.create(roster=third, id_number=NUMBER, name="李四", identity="dibao", change="new")
    refused(lambda: sql("DELETE FROM subsidies_rosterimport WHERE id = %s", [third.pk]),
            f"Key (id)=({third.pk}) is still referenced from table \"subsidies_rosterchange\"")
    third.delete()
    assert not RosterChange.objects.filter(roster_id=third.pk).exists()
    # nothing names it: it goes
    fourth = roster_import()
    sql("DELETE FROM subsidies_rosterimport WHERE id = %s", [fourth.pk])
    assert not RosterImport.objects.filter(pk=fourth.pk).exists()


def test_a_roster_imports_rows_all_name_rows_that_exist():
    li = person("141102", "19800501", name="李四")
    register_and_pay(li, 2026, date(2025, 11, 10), date(2025, 11, 10), "400.00")
    stranger = number("141102", "19700101", "011")
    result = run([["李四", li.id_number, "低保对象", "吕梁市民政局", "2025-06-01"],
                  ["王五", stranger, "特困人员", "民政局", "2025-05-01"]])
    assert (result.new, result.refunds_owed) == (2, 1)
    run([["王五", stranger, "特困人员", "民政局", "2025-05-01"]])  # 李四 removed
    with connection.cursor() as cur:
        cur.execute("""
            SELECT (SELECT count(*) FROM subsidies_assistanceidentity a WHERE NOT EXISTS (
                      SELECT 1 FROM subsidies_rosterimport r WHERE r.id = a.roster_id)
                    OR NOT EXISTS (SELECT 1 FROM policy_region g WHERE g.code = a.region_id)
                    OR (a.removed_by_id IS NOT NULL AND NOT EXISTS (
                      SELECT 1 FROM subsidies_rosterimport r WHERE r.id = a.removed_by_id))),
                   (SELECT count(*) FROM subsidies_rosterchange c WHERE NOT EXISTS (
                      SELECT 1 FROM subsidies_rosterimport r WHERE r.id = c.roster_id)),
                   (SELECT count(*) FROM subsidies_owedrefund o WHERE NOT EXISTS (
                      SELECT 1 FROM subsidies_rosterimport r WHERE r.id = o.roster_id)
                    OR NOT EXISTS (SELECT 1 FROM policy_region g WHERE g.code = o.region_id)),
                   (SELECT count(*) FROM subsidies_assistanceidentity WHERE removed_by_id IS NOT NULL),
                   (SELECT count(*) FROM subsidies_rosterchange), (SELECT count(*) FROM subsidies_owedrefund)""")
        assert cur.fetchone() == (0, 0, 0, 1, 3, 1)
