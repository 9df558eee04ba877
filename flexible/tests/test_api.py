"""The channel API takes flexible-employment payments (issue 13, INTERFACES.md §5 with the
optional ``scheme``): dues and payments with ``"scheme": "flexible_employment"``, the same
idempotency and codes as the resident scheme; every answer read back from the ledger and the
enrollment; existing callers (no scheme) unchanged."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest

from enrollment.tests.support import person, register
from flexible.models import FlexibleEnrollment
from flexible.services import flexible_enroll
from payments.models import Payment, Refund
from payments.services import ledger_check

pytestmark = pytest.mark.usefixtures("policies")
DEC1 = date(2024, 12, 1)
APR10 = date(2025, 4, 10)
FLEX = "flexible_employment"


@pytest.fixture
def call(client, channel_token, settings):
    settings.BUSINESS_DATE = APR10

    def go(method, url, body=None, **params):
        headers = {"HTTP_AUTHORIZATION": f"Bearer {channel_token}"}
        if method == "get":
            return client.get(url, params, **headers)
        return client.post(url, json.dumps(body), content_type="application/json", **headers)
    return go


@pytest.fixture
def wang(policies):
    r = person("610402", "19700101", name="王建国", today=DEC1)
    flexible_enroll(resident=r, year=2025, person_status="in_service", file_held_at="reemployment_centre",
                    paid_previous_year=True, actor=None, today=DEC1)
    return r


def pay(r, **over):
    body = {"scheme": FLEX, "channel": "alipay", "txn_id": "ALI-0001", "id_number": r.id_number, "name": r.name,
            "year": 2025, "amount": "3676.80", "paid_at": "2025-03-31T09:15:00+08:00"}
    body.update(over)
    return body


def err(resp):
    return resp.status_code, resp.json()["error"]["code"]


def test_dues_of_the_flexible_scheme_priced_today(call, wang):
    resp = call("get", "/api/v1/dues", id_number=wang.id_number, name="王建国", year="2025", scheme=FLEX)
    assert resp.status_code == 200
    assert resp.json() == {"name": "王建国", "region": "610400", "year": 2025, "scheme": FLEX,
                           "category": "in_service", "amount_due": "3676.80", "status": "unpaid"}


def test_a_payment_is_a_ledger_row_and_the_enrollment_its_cache(call, wang):
    resp = call("post", "/api/v1/payments", pay(wang))
    assert resp.status_code == 201
    p = Payment.objects.get()
    assert resp.json() == {"payment_id": p.pk, "status": "paid", "benefit_start": "2025-03-31", "scheme": FLEX,
                           "certificate_from": "2025-04-05"}
    e = FlexibleEnrollment.objects.get()
    assert (p.scheme, p.scheme_enrollment_id, p.enrollment_id, p.gap_repair_id, p.channel, p.txn_id, p.id_number,
            p.name, p.region_id, p.year, p.amount, p.paid_on, p.outcome, p.kind, p.payer_kind) == (
        FLEX, e.pk, None, None, "alipay", "ALI-0001", wang.id_number, "王建国", "610400", 2025, Decimal("3676.80"),
        date(2025, 3, 31), "applied", "payment", "self")
    assert (e.status, e.payment_id, e.paid_amount, e.paid_on, e.timing, e.interruption_months, e.makeup_basic,
            e.benefit_start, e.certificate_from) == (
        "paid", p.pk, Decimal("3676.80"), date(2025, 3, 31), "interrupted", 3, Decimal("864.00"),
        date(2025, 3, 31), date(2025, 4, 5))
    assert ledger_check() == []
    # audited: the enrollment's change carries the payment's context
    event = e.events.order_by("-pgh_id").first()
    assert event.pgh_context.metadata["action"] == "payment_record"
    assert event.pgh_context.metadata["scheme"] == FLEX
    # and the dues say paid
    resp = call("get", "/api/v1/dues", id_number=wang.id_number, name="王建国", year="2025", scheme=FLEX)
    assert (resp.json()["status"], resp.json()["amount_due"]) == ("paid", "3676.80")


def test_the_same_payment_again_is_the_first_answer(call, wang):
    first = call("post", "/api/v1/payments", pay(wang))
    again = call("post", "/api/v1/payments", pay(wang, paid_at="2025-03-31T01:15:00Z", name=" 王建国 "))
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert Payment.objects.count() == 1


@pytest.mark.parametrize("change", [{"amount": "220.80"}, {"paid_at": "2025-03-30T09:15:00+08:00"},
                                    {"scheme": "resident"}, {"scheme": None}, {"channel": "wechat"}])
def test_the_same_txn_with_another_body_is_a_conflict(call, wang, change):
    assert call("post", "/api/v1/payments", pay(wang)).status_code == 201
    if "channel" in change:  # another channel is another transaction id space: a second payment
        resp = call("post", "/api/v1/payments", pay(wang, **change))
        assert err(resp) == (409, "already_paid")
        return
    assert err(call("post", "/api/v1/payments", pay(wang, **change))) == (409, "idempotency_conflict")
    assert Payment.objects.count() == 1


def test_paying_again_keeps_the_money_and_queues_a_refund(call, wang, django_user_model):
    from payments.refunds import refund_decide, refund_pay

    call("post", "/api/v1/payments", pay(wang))
    resp = call("post", "/api/v1/payments", pay(wang, txn_id="ALI-0002", paid_at="2025-04-01T10:00:00+08:00"))
    assert err(resp) == (409, "already_paid")
    assert resp.json()["error"]["message"] == "2025 年度灵活就业人员医疗保险已缴费；本笔 3676.80 元已记录并列入退费"
    dup = Payment.objects.get(txn_id="ALI-0002")
    assert (dup.outcome, dup.scheme, dup.scheme_enrollment_id, dup.amount) == (
        "duplicate", FLEX, FlexibleEnrollment.objects.get().pk, Decimal("3676.80"))
    refund = Refund.objects.get()
    assert (refund.enrollment_id, refund.source_payment_id, refund.amount, refund.reason, refund.status) == (
        None, dup.pk, Decimal("3676.80"), "duplicate", "requested")
    # the refund goes through the queue as any other: approved, then paid out on the ledger
    approver = django_user_model.objects.create_user("approver", password="x-Unused-123")
    payer = django_user_model.objects.create_user("payer", password="x-Unused-123")
    refund_decide(refund=refund, approve=True, actor=approver)
    out = refund_pay(refund=refund, actor=payer)
    out = Payment.objects.get(pk=out.pk)
    assert (out.kind, out.amount, out.refund_of_id, out.scheme, out.scheme_enrollment_id, out.enrollment_id) == (
        "refund", Decimal("-3676.80"), dup.pk, FLEX, dup.scheme_enrollment_id, None)
    assert FlexibleEnrollment.objects.get().status == "paid"  # the first payment still pays it
    assert ledger_check() == []


@pytest.mark.parametrize("change, status, code", [
    ({"amount": "3676.00"}, 422, "amount_mismatch"),
    ({"amount": "220.80"}, 422, "amount_mismatch"),
    ({"name": "王建"}, 422, "name_mismatch"),
    ({"year": 2026}, 404, "not_registered"),
    ({"scheme": "employee"}, 422, "invalid_input"),
    ({"scheme": ["flexible_employment"]}, 422, "invalid_input"),
    ({"course_years": 2}, 422, "invalid_input"),
    ({"paid_at": "2025-04-11T09:00:00+08:00"}, 422, "invalid_input"),  # after the business date
])
def test_refusals_write_nothing(call, wang, change, status, code):
    assert err(call("post", "/api/v1/payments", pay(wang, **change))) == (status, code)
    assert not Payment.objects.exists()
    assert FlexibleEnrollment.objects.get().status == "registered"


def test_after_the_year_is_window_closed(call, wang, settings):
    settings.BUSINESS_DATE = date(2026, 1, 5)
    resp = call("post", "/api/v1/payments", pay(wang, paid_at="2026-01-02T10:00:00+08:00"))
    assert err(resp) == (422, "window_closed")
    resp = call("get", "/api/v1/dues", id_number=wang.id_number, name="王建国", year="2025", scheme=FLEX)
    assert err(resp) == (422, "window_closed")
    assert not Payment.objects.exists()


def test_the_amount_is_the_rules_at_paid_at(call, policies):
    """A retired person owes 220.80; paid more than three months late, waits three months."""
    r = person("610402", "19550101", "037", name="赵退休", today=DEC1)
    flexible_enroll(resident=r, year=2025, person_status="retired", file_held_at="reemployment_centre",
                    paid_previous_year=True, actor=None, today=DEC1)
    resp = call("post", "/api/v1/payments", pay(r, amount="220.80", paid_at="2025-04-01T10:00:00+08:00"))
    assert resp.status_code == 201
    assert resp.json()["benefit_start"] == "2025-07-01"
    e = FlexibleEnrollment.objects.get(resident=r)
    assert (e.timing, e.waiting_months, e.benefit_start, e.paid_amount) == (
        "first_enrolment", 3, date(2025, 7, 1), Decimal("220.80"))


def test_a_cancelled_or_missing_flexible_enrollment_is_not_registered(call, wang):
    from flexible.services import flexible_cancel

    flexible_cancel(enrollment=FlexibleEnrollment.objects.get(), reason="转居民医保", actor=None)
    resp = call("post", "/api/v1/payments", pay(wang))
    assert err(resp) == (404, "not_registered")
    assert resp.json()["error"]["message"] == "未找到 2025 年度的灵活就业人员医疗保险登记，请先登记参保"
    resp = call("get", "/api/v1/dues", id_number=wang.id_number, name="王建国", year="2025", scheme=FLEX)
    assert err(resp) == (404, "not_registered")


def test_existing_callers_are_unchanged(call, wang, policies, settings):
    """No scheme is the resident scheme: a person only in the flexible scheme has no resident
    enrollment; a resident payment answers as before (no scheme in its answer)."""
    resp = call("get", "/api/v1/dues", id_number=wang.id_number, name="王建国", year="2025")
    assert err(resp) == (404, "not_registered")
    resp = call("post", "/api/v1/payments", {k: v for k, v in pay(wang).items() if k != "scheme"})
    assert err(resp) == (404, "not_registered")
    settings.BUSINESS_DATE = date(2024, 12, 10)
    zhang = person("610402", "19800101", "047", name="张居民", today=DEC1)
    register(zhang, 2025, DEC1)
    resp = call("get", "/api/v1/dues", id_number=zhang.id_number, name="张居民", year="2025", scheme="resident")
    assert resp.status_code == 200 and "scheme" not in resp.json()
    body = {"channel": "wechat", "txn_id": "WX-R1", "id_number": zhang.id_number, "name": "张居民", "year": 2025,
            "amount": resp.json()["amount_due"], "paid_at": "2024-12-10T10:00:00+08:00"}
    first = call("post", "/api/v1/payments", body)
    assert first.status_code == 201 and set(first.json()) == {"payment_id", "status", "benefit_start"}
    # "scheme": "resident" spelt out is the same request as no scheme
    again = call("post", "/api/v1/payments", {**body, "scheme": "resident"})
    assert (again.status_code, again.json()) == (200, first.json())
    assert Payment.objects.get(txn_id="WX-R1").scheme == "resident"
    assert ledger_check() == []
