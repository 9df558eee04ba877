"""Flexible payments on the ledger (issue 13): the service writes a Payment row and the
enrollment's cache in one transaction; the database ties them; ``ledger_check`` finds every
disagreement; the tax-paid certificate holds for the ledger payment (缴费5日后)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.db import IntegrityError, connection, transaction

from enrollment.tests.support import person
from flexible.models import FlexibleEnrollment
from flexible.selectors import flexible_certificate
from flexible.services import FlexibleError, flexible_enroll, flexible_record_payment
from payments.certificates import NotPaid, NotYetAvailable, verify
from payments.models import Payment
from payments.services import ledger_check

pytestmark = pytest.mark.django_db
DEC1 = date(2024, 12, 1)
SH = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def e(policies):
    r = person("610402", "19700101", name="王建国", today=DEC1)
    return flexible_enroll(resident=r, year=2025, person_status="in_service", file_held_at="reemployment_centre",
                           paid_previous_year=True, actor=None, today=DEC1)


def paid(e, on=date(2024, 12, 20), **kw):
    return flexible_record_payment(enrollment=e, amount=Decimal("3676.80"), paid_on=on, actor="柜台", **kw)


def test_the_service_writes_the_ledger_row_and_the_cache(e):
    paid(e, channel="tax_hall", txn_id="SW-1")
    row = FlexibleEnrollment.objects.get(pk=e.pk)
    p = Payment.objects.get()
    assert (p.scheme, p.scheme_enrollment_id, p.channel, p.txn_id, p.amount, p.paid_on, p.actor,
            p.paid_at) == ("flexible_employment", e.pk, "tax_hall", "SW-1", Decimal("3676.80"), date(2024, 12, 20),
                           "柜台", datetime(2024, 12, 20, 12, 0, tzinfo=SH))
    assert (row.payment_id, row.paid_amount, row.paid_on, row.benefit_start, row.certificate_from) == (
        p.pk, Decimal("3676.80"), date(2024, 12, 20), date(2025, 1, 1), date(2024, 12, 25))
    assert ledger_check() == []


def test_a_payment_dated_after_today_is_refused(e, settings):
    settings.BUSINESS_DATE = DEC1
    with pytest.raises(FlexibleError) as exc:
        paid(e, on=date(2024, 12, 2))
    assert (exc.value.code, exc.value.message) == ("invalid_input", "缴费日期 2024-12-02 晚于今天（2024-12-01）")
    assert not Payment.objects.exists()
    assert FlexibleEnrollment.objects.get(pk=e.pk).status == "registered"


def test_an_unknown_channel_is_refused_and_nothing_written(e):
    with pytest.raises(FlexibleError) as exc:
        paid(e, channel="bitcoin")
    assert exc.value.code == "invalid_input"
    assert not Payment.objects.exists()


def test_the_database_ties_paid_to_a_ledger_row(e):
    with pytest.raises(IntegrityError), transaction.atomic():
        FlexibleEnrollment.objects.filter(pk=e.pk).update(status="paid", paid_on=DEC1, paid_amount=Decimal("1"),
                                                          benefit_start=DEC1)
    paid(e)
    p = Payment.objects.get()
    with pytest.raises(IntegrityError), transaction.atomic():  # a flexible payment names no resident enrollment
        Payment.objects.create(kind="payment", outcome="duplicate", channel="wechat", txn_id="X", scheme="resident",
                               id_number=p.id_number, name=p.name, region_id="610400", year=2025,
                               amount=Decimal("1"), paid_at=p.paid_at, paid_on=p.paid_on)
    with pytest.raises(IntegrityError), transaction.atomic():  # one applied payment per scheme enrollment
        Payment.objects.create(kind="payment", outcome="applied", channel="wechat", txn_id="Y",
                               scheme="flexible_employment", scheme_enrollment_id=e.pk, id_number=p.id_number,
                               name=p.name, region_id="610400", year=2025, amount=p.amount, paid_at=p.paid_at,
                               paid_on=p.paid_on)


def test_ledger_check_finds_each_disagreement(e):
    paid(e)
    p = Payment.objects.get()
    with connection.cursor() as cur:  # a cache edited behind the service's back
        cur.execute("UPDATE flexible_flexibleenrollment SET paid_amount = 3000 WHERE id = %s", [e.pk])
    assert ledger_check() == [("flexible_employment", "enrollment", e.pk, "paid", Decimal("3000.00"),
                               Decimal("3676.80"))]
    with connection.cursor() as cur:
        cur.execute("UPDATE flexible_flexibleenrollment SET paid_amount = 3676.80, paid_on = '2024-12-21' "
                    "WHERE id = %s", [e.pk])
    assert [r[:3] for r in ledger_check()] == [("flexible_employment", "enrollment", e.pk)]
    with connection.cursor() as cur:  # consistent again; then a ledger row nobody links to
        cur.execute("UPDATE flexible_flexibleenrollment SET paid_on = '2024-12-20' WHERE id = %s", [e.pk])
    assert ledger_check() == []
    other = person("610402", "19720101", "027", name="李四", today=DEC1)
    e2 = flexible_enroll(resident=other, year=2025, person_status="retired", file_held_at="reemployment_centre",
                         paid_previous_year=True, actor=None, today=DEC1)
    Payment.objects.create(kind="payment", outcome="applied", channel="wechat", txn_id="ORPHAN",
                           scheme="flexible_employment", scheme_enrollment_id=e2.pk, id_number=other.id_number,
                           name="李四", region_id="610400", year=2025, amount=Decimal("220.80"), paid_at=p.paid_at,
                           paid_on=p.paid_on)
    assert ledger_check() == [("flexible_employment", "payment", e2.pk, "registered", None, Decimal("220.80"))]


def test_the_certificate_is_from_five_days_after_the_ledger_payment(e):
    paid(e, on=date(2025, 3, 31))
    with pytest.raises(NotYetAvailable) as exc:
        flexible_certificate(e, today=date(2025, 4, 4))
    assert exc.value.available_from == date(2025, 4, 5)
    assert exc.value.message == "缴费日期为 2025年3月31日，《社会保险费缴费证明》缴费 5 日后即 2025年4月5日 起可以打印"
    cert = flexible_certificate(e, today=date(2025, 4, 5))
    p = Payment.objects.get()
    assert (cert.payment_id, cert.enrollment_id, cert.amount, cert.paid_on, cert.available_from, cert.category,
            cert.region, cert.benefit_start, cert.benefit_end) == (
        p.pk, e.pk, Decimal("3676.80"), date(2025, 3, 31), date(2025, 4, 5), "灵活就业人员医疗保险（在职人员）",
        "咸阳市", date(2025, 3, 31), date(2025, 12, 31))
    checked = verify(cert.code)
    assert (checked.valid, checked.amount, checked.year, checked.region, checked.name) == (
        True, Decimal("3676.80"), 2025, "咸阳市", "王**")


def test_no_certificate_before_payment(e):
    with pytest.raises(NotPaid) as exc:
        flexible_certificate(e, today=date(2025, 4, 5))
    assert exc.value.message == "2025 年度灵活就业人员医疗保险已登记（待缴费），尚未缴费，不能开具缴费证明"


def test_the_migration_carries_over_an_enrollment_paid_before_the_ledger(e):
    """flexible 0002's backfill: a paid enrollment without a ledger row gets one (idempotent)."""
    import importlib

    from django.apps import apps as live_apps

    migration = importlib.import_module("flexible.migrations.0002_payment_on_the_ledger")
    with connection.cursor() as cur:  # as a row paid before this change: no link, no ledger row
        cur.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cur.execute("ALTER TABLE flexible_flexibleenrollment DROP CONSTRAINT flex_paid_is_on_the_ledger")
        cur.execute("UPDATE flexible_flexibleenrollment SET status = 'paid', paid_amount = 3676.80, "
                    "paid_on = '2024-12-20', benefit_start = '2025-01-01' WHERE id = %s", [e.pk])
    migration.carry_over_paid(live_apps, None)
    migration.carry_over_paid(live_apps, None)
    p = Payment.objects.get()
    assert (p.channel, p.txn_id, p.scheme, p.scheme_enrollment_id, p.amount, p.paid_on) == (
        "carried_over", f"flexible-{e.pk}", "flexible_employment", e.pk, Decimal("3676.80"), date(2024, 12, 20))
    assert FlexibleEnrollment.objects.get(pk=e.pk).payment_id == p.pk
    assert ledger_check() == []


def test_a_flexible_payment_is_reconciled_with_the_tax_bureau(e, tmp_path, settings):
    """The tax bureau's deposit file matches a flexible payment by channel and txn id, as any."""
    import io
    import json

    from django.core.management import call_command

    from payments.models import ReconciliationRun

    settings.BUSINESS_DATE = date(2024, 12, 21)
    paid(e, channel="tax_hall", txn_id="SW-FLEX-1")
    path = tmp_path / "入库.csv"
    path.write_text("入库日期,交易流水号,渠道,身份证号码,待遇年度,金额\n"
                    f"2024-12-20,SW-FLEX-1,办税服务厅,{e.resident.id_number},2025,3676.80\n", encoding="utf-8")
    out = io.StringIO()
    call_command("import_tax_deposits", str(path), stdout=out)
    assert json.loads(out.getvalue()) == {"rows": 1, "matched": 1, "missing_here": 0, "missing_there": 0,
                                          "amount_differs": 0}
    assert ReconciliationRun.objects.get().matched == 1


def test_the_ledger_admin_shows_the_scheme(e, client, django_user_model):
    paid(e, channel="tax_hall", txn_id="SW-ADMIN-1")
    admin_user = django_user_model.objects.create_superuser("root", password="x-Unused-123")
    client.force_login(admin_user)
    page = client.get("/admin/payments/payment/").content.decode()
    assert "灵活就业人员医疗保险" in page and "SW-ADMIN-1" in page
    p = Payment.objects.get()
    page = client.get(f"/admin/payments/payment/{p.pk}/change/").content.decode()
    assert "灵活就业人员医疗保险" in page


def test_a_flexible_duplicate_refund_shows_in_the_refund_admin(e, client, django_user_model):
    from payments.models import Refund
    from payments.services import payment_record

    paid(e)
    recorded = payment_record(channel="wechat", txn_id="WX-DUP", id_number=e.resident.id_number, name="王建国",
                              year=2025, amount=Decimal("3676.80"), paid_at=datetime(2024, 12, 22, 9, tzinfo=SH),
                              actor="test", scheme="flexible_employment")
    assert recorded.status == 409
    refund = Refund.objects.get()
    client.force_login(django_user_model.objects.create_superuser("root", password="x-Unused-123"))
    resp = client.get(f"/admin/payments/refund/{refund.pk}/change/")
    assert resp.status_code == 200
    assert "3676.80" in resp.content.decode()
    assert client.get("/admin/payments/refund/").status_code == 200


def test_the_public_verification_page_knows_a_flexible_certificate(e, client):
    paid(e, on=date(2025, 3, 31))
    cert = flexible_certificate(e, today=date(2025, 4, 5))
    resp = client.get(f"/verify/{cert.code}")
    assert resp.status_code == 200
    page = resp.content.decode()
    assert "王**" in page and "咸阳市" in page and "3676.80" in page
    assert e.resident.id_number not in page
