"""断保补缴: making up a break year repairs Shanghai's variable waiting — the next year's
payment starts a month earlier; recorded on the ledger with the repair."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest

from enrollment.models import GapRepair
from enrollment.tests.support import clone, person, register
from payments.models import Payment
from payments.services import ledger_check

from .test_api import carried, err

pytestmark = pytest.mark.usefixtures("policies")
DAY = date(2026, 3, 2)


@pytest.fixture
def call(client, channel_token, settings):
    settings.BUSINESS_DATE = DAY

    def go(method, url, body=None, **params):
        headers = {"HTTP_AUTHORIZATION": f"Bearer {channel_token}"}
        if method == "get":
            return client.get(url, params, **headers)
        return client.post(url, json.dumps(body), content_type="application/json", **headers)
    return go


@pytest.fixture
def pupil():
    clone("310000", 2025, 2026)
    r = person("310101", "20150601", name="小明", student="primary_secondary", today=DAY)
    register(r, 2026, DAY)
    return r


def body(r, **over):
    out = {"channel": "etax", "txn_id": "BP-1", "id_number": r.id_number, "name": r.name, "year": 2025,
           "amount": "355.00", "paid_at": "2026-03-02T09:00:00+08:00"}
    out.update(over)
    return out


def pay_2026(call, r, txn):
    return call("post", "/api/v1/payments", {"channel": "etax", "txn_id": txn, "id_number": r.id_number,
                                             "name": r.name, "year": 2026, "amount": "355.00",
                                             "paid_at": "2026-03-02T10:00:00+08:00"})


def test_without_the_back_payment_the_break_year_adds_a_month(call, pupil):
    resp = pay_2026(call, pupil, "Y-1")
    assert (resp.status_code, resp.json()["benefit_start"]) == (201, "2026-07-02")  # 3 fixed + 1 variable


def test_a_back_payment_shortens_the_next_years_waiting_by_a_month(call, pupil):
    dues = call("get", "/api/v1/back-payments", id_number=pupil.id_number, name="小明", year="2025")
    assert (dues.status_code, dues.json()) == (200, {"name": "小明", "year": 2025, "amount_due": "355.00",
                                                     "status": "break_year"})
    resp = call("post", "/api/v1/back-payments", body(pupil))
    assert resp.status_code == 201, resp.json()
    repair = GapRepair.objects.get(resident=pupil)
    p = Payment.objects.get(txn_id="BP-1")
    assert (repair.year, p.gap_repair_id, p.enrollment_id, p.amount, p.year) == (
        2025, repair.pk, None, Decimal("355.00"), 2025)
    assert resp.json() == {"payment_id": p.pk, "status": "repaired", "year": 2025}
    again = call("post", "/api/v1/back-payments", body(pupil))
    assert (again.status_code, again.json()) == (200, resp.json())
    assert err(call("post", "/api/v1/back-payments", body(pupil, txn_id="BP-2"))) == (409, "already_paid")
    paid = pay_2026(call, pupil, "Y-2")
    assert (paid.status_code, paid.json()["benefit_start"]) == (201, "2026-06-02")  # the fixed 3 months only
    assert ledger_check() == []


def test_back_payment_refusals(call, pupil):
    assert err(call("post", "/api/v1/back-payments", body(pupil, amount="300.00"))) == (422, "amount_mismatch")
    assert err(call("post", "/api/v1/back-payments", body(pupil, year=2026))) == (422, "invalid_input")
    assert err(call("post", "/api/v1/back-payments", body(pupil, year=2024))) == (422, "invalid_input")
    adult = person("310101", "19800101", "031", name="大人", today=DAY)
    assert err(call("get", "/api/v1/back-payments", id_number=adult.id_number, name="大人", year="2025")) == (
        422, "value_not_in_source")
    li = person("141102", "19800501", name="李四", today=DAY)
    assert err(call("get", "/api/v1/back-payments", id_number=li.id_number, name="李四", year="2025")) == (
        422, "back_payment_not_applicable")
    carried(li, 2025)
    assert err(call("get", "/api/v1/back-payments", id_number=li.id_number, name="李四", year="2025")) == (
        422, "not_a_break_year")
    assert not Payment.objects.filter(txn_id__startswith="BP").exists()
    assert not GapRepair.objects.exists()


def test_one_ledger_row_a_repair_and_the_null_keys_not_indexed(call, pupil):
    """payments 0009: at most one payment a break-year repair (a partial unique index), and the
    repair and refunded-payment keys indexed only where set — a NULL entry per payment was
    written for nothing."""
    from django.db import IntegrityError, connection, transaction

    assert call("post", "/api/v1/back-payments", body(pupil)).status_code == 201
    p = Payment.objects.get(txn_id="BP-1")
    twin = {f.attname: getattr(p, f.attname) for f in Payment._meta.concrete_fields if f.attname != "id"}
    with pytest.raises(IntegrityError, match="payment_one_per_gap_repair"), transaction.atomic():
        Payment.objects.create(**{**twin, "txn_id": "BP-TWIN"})
    assert Payment.objects.filter(gap_repair=p.gap_repair_id).count() == 1
    with connection.cursor() as cur:
        cur.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'payments_payment' "
                    "AND (indexdef LIKE '%%gap_repair_id%%' OR indexdef LIKE '%%refund_of_id%%') ORDER BY 1")
        indexes = cur.fetchall()
    assert [(name, definition.split(" USING btree ")[1]) for name, definition in indexes] == [
        ("payment_one_per_gap_repair", "(gap_repair_id) WHERE (gap_repair_id IS NOT NULL)"),
        ("payment_refund_of", "(refund_of_id) WHERE (refund_of_id IS NOT NULL)")]
