"""What ``payment_record`` writes, column by column: the ledger row (one raw INSERT) and the
enrollment's paid columns (one raw UPDATE) are what ``Payment.objects.create`` and
``fill_paid`` + ``save()`` wrote before, and the enrollment's audit event records who."""

from __future__ import annotations

import copy
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.apps import apps
from django.forms.models import model_to_dict
from django.utils import timezone

from enrollment.models import Enrollment
from enrollment.selectors import quote_request_for
from enrollment.services import fill_paid, run_quote, spec_for
from enrollment.tests.support import caseworker
from payments.api import canonical_hash
from payments.models import Payment
from payments.services import PaymentError, payment_record

from .test_api import NOV, call, business_date, li, pay  # noqa: F401  (fixtures)

pytestmark = pytest.mark.usefixtures("policies")
PAID_AT = datetime(2025, 11, 10, 10, 30, tzinfo=ZoneInfo("Asia/Shanghai"))


def expected_enrollment(before: Enrollment, resident) -> dict:
    """The enrollment as the ORM path left it: fill_paid on the row, every column saved."""
    result = run_quote(spec_for("141100", 2026), quote_request_for(resident, 2026, NOV))
    e = copy.copy(before)
    fill_paid(e, result, amount=result.amount_due, paid_on=NOV, paid_at=PAID_AT, paid_via="channel")
    return model_to_dict(e, exclude=["updated_at"])


def test_the_api_payment_writes_every_column_as_the_orm_did(call, li):
    before = Enrollment.objects.get(resident=li, year=2026)
    expected = expected_enrollment(before, li)
    resp = call("post", "/api/v1/payments", pay(li, payer={"kind": "other_person", "id": "X1", "name": "王二"}))
    assert resp.status_code == 201
    p = Payment.objects.get(channel="wechat", txn_id="WX-0001")
    assert resp.json() == {"payment_id": p.pk, "status": "paid", "benefit_start": "2026-01-01"}
    row = {f.attname: getattr(p, f.attname) for f in Payment._meta.concrete_fields}
    assert row == {
        "id": p.pk, "kind": "payment", "outcome": "applied", "channel": "wechat", "txn_id": "WX-0001",
        "enrollment_id": before.pk, "gap_repair_id": None, "id_number": li.id_number, "name": "李四",
        "region_id": "141100", "year": 2026, "amount": Decimal("400.00"), "paid_at": PAID_AT, "paid_on": NOV,
        "payer_kind": "other_person", "payer_id": "X1", "payer_name": "王二", "refund_of_id": None,
        "request_hash": canonical_hash("payments", channel="wechat", txn_id="WX-0001", id_number=li.id_number,
                                       name="李四", year=2026, amount=Decimal("400.00"), paid_at=PAID_AT,
                                       payer={"kind": "other_person", "id": "X1", "name": "王二"},
                                       course_years=1),
        "response": {"payment_id": p.pk, "status": "paid", "benefit_start": "2026-01-01"},
        "response_status": 201, "recorded_at": p.recorded_at, "recorded_by_id": None,
        "actor": "api token test-channel", "note": "", "scheme": "resident", "scheme_enrollment_id": None}
    assert timezone.localtime(p.recorded_at).date() == NOV  # the business clock's date
    after = Enrollment.objects.get(pk=before.pk)
    assert model_to_dict(after, exclude=["updated_at"]) == expected
    assert after.updated_at > before.updated_at
    assert (after.status, after.paid_amount, after.paid_on, after.paid_at, after.paid_via, after.benefit_start,
            after.benefit_end, after.waiting_months, after.amount_due, after.category) == (
        "paid", Decimal("400.00"), NOV, PAID_AT, "channel", date(2026, 1, 1), date(2026, 12, 31), 0,
        Decimal("400.00"), "resident")


def test_the_enrollments_audit_event_records_the_token_and_the_payment(call, li):
    call("post", "/api/v1/payments", pay(li))
    e = Enrollment.objects.get(resident=li, year=2026)
    event = apps.get_model("enrollment", "EnrollmentEvent").objects.select_related("pgh_context").get(
        pgh_obj_id=e.pk, pgh_label="update")
    assert (event.status, event.paid_amount) == ("paid", Decimal("400.00"))
    meta = event.pgh_context.metadata
    assert {k: meta.get(k) for k in ("actor", "action", "channel", "txn_id", "url")} == {
        "actor": "api token test-channel", "action": "payment_record", "channel": "wechat", "txn_id": "WX-0001",
        "url": "/api/v1/payments"}


def test_a_caseworkers_payment_records_the_user_on_the_row_and_in_the_audit(li):
    user = caseworker("lvliang_worker", "141100")
    recorded = payment_record(channel="tax_hall", txn_id="HALL-1", id_number=li.id_number, name="李四", year=2026,
                              amount=Decimal("400.00"), paid_at=PAID_AT, actor=user)
    assert (recorded.status, recorded.repeated) == (201, False)
    p = recorded.payment  # read when asked for
    assert (p.pk, p.recorded_by_id, p.actor, p.channel, p.outcome, p.request_hash) == (
        recorded.body["payment_id"], user.pk, "", "tax_hall", "applied", "")
    e = Enrollment.objects.get(resident=li, year=2026)
    event = apps.get_model("enrollment", "EnrollmentEvent").objects.select_related("pgh_context").get(
        pgh_obj_id=e.pk, pgh_label="update")
    assert {k: event.pgh_context.metadata.get(k) for k in ("user", "username", "action")} == {
        "user": user.pk, "username": "lvliang_worker", "action": "payment_record"}
    # no body hash given: the same transaction again is another request, refused
    with pytest.raises(PaymentError) as refused:
        payment_record(channel="tax_hall", txn_id="HALL-1", id_number=li.id_number, name="李四", year=2026,
                       amount=Decimal("400.00"), paid_at=PAID_AT, actor=user)
    assert refused.value.code == "idempotency_conflict"
    assert Payment.objects.filter(txn_id="HALL-1").count() == 1


def test_a_repeat_answers_the_stored_first_answer_with_the_rows_id(li):
    kw = dict(channel="wechat", txn_id="WX-7", id_number=li.id_number, name="李四", year=2026,
              amount=Decimal("400.00"), paid_at=PAID_AT, actor="test", body_hash="h" * 64)
    first = payment_record(**kw)
    again = payment_record(**kw)
    assert (again.status, again.body, again.repeated, again.payment_id) == (
        200, first.body, True, first.payment_id)
    assert again.payment.pk == first.payment_id
    assert Payment.objects.filter(txn_id="WX-7").count() == 1
