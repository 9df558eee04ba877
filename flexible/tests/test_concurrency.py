"""Flexible payments through the channel API under concurrency (issue 13): threads posting at
once over real HTTP to the live server (payments.tests.test_concurrency.race), then what the
database holds.

- the same flexible payment 30 times at once → one Payment, one 201 and 29 × 200 with its body;
- eight transactions for one flexible enrollment at once → one applied (linked from the
  enrollment), seven duplicates each with a refund queued;
- ``ledger_check()`` empty after each."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from accounts.services import api_token_create
from enrollment.tests.support import person
from flexible.models import FlexibleEnrollment
from flexible.services import flexible_enroll
from payments.models import Payment, Refund
from payments.services import ledger_check
from payments.tests.test_concurrency import race, statuses

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("policies")]
DEC1 = date(2024, 12, 1)


@pytest.fixture
def token(settings):
    settings.BUSINESS_DATE = date(2025, 4, 10)  # the live server runs in this process: the same clock
    _, raw = api_token_create(name="flex-concurrency", scope="channel")
    return raw


@pytest.fixture
def wang(token):
    r = person("610402", "19700101", name="王建国", today=DEC1)
    flexible_enroll(resident=r, year=2025, person_status="in_service", file_held_at="reemployment_centre",
                    paid_previous_year=True, actor=None, today=DEC1)
    return r


def body(r, **over):
    out = {"scheme": "flexible_employment", "channel": "alipay", "txn_id": "ALI-0001", "id_number": r.id_number,
           "name": r.name, "year": 2025, "amount": "3676.80", "paid_at": "2025-03-31T09:15:00+08:00"}
    out.update(over)
    return out


def test_the_same_flexible_payment_thirty_times_at_once_lands_once(live_server, token, wang):
    results = race(live_server.url, token, [body(wang)] * 30)
    assert statuses(results) == {201: 1, 200: 29}
    first = next(answer for status, answer in results if status == 201)
    assert all(answer == first for _, answer in results)
    p = Payment.objects.get()
    assert first == {"payment_id": p.pk, "status": "paid", "benefit_start": "2025-03-31",
                     "scheme": "flexible_employment", "certificate_from": "2025-04-05"}
    e = FlexibleEnrollment.objects.get()
    assert (e.status, e.payment_id, e.paid_amount, e.paid_on) == ("paid", p.pk, Decimal("3676.80"),
                                                                  date(2025, 3, 31))
    assert not Refund.objects.exists()
    assert ledger_check() == []


def test_eight_transactions_for_one_flexible_enrollment_at_once_one_lands(live_server, token, wang):
    bodies = [body(wang, txn_id=f"ALI-{i:04d}") for i in range(8)]
    results = race(live_server.url, token, bodies)
    assert statuses(results) == {201: 1, 409: 7}
    assert {answer["error"]["code"] for status, answer in results if status == 409} == {"already_paid"}
    winner = next(bodies[i]["txn_id"] for i, (status, _) in enumerate(results) if status == 201)
    applied = Payment.objects.get(outcome="applied")
    assert applied.txn_id == winner
    assert FlexibleEnrollment.objects.get().payment_id == applied.pk
    duplicates = Payment.objects.filter(outcome="duplicate")
    assert duplicates.count() == 7
    assert {(r.reason, r.amount, r.enrollment_id) for r in Refund.objects.all()} == {
        ("duplicate", Decimal("3676.80"), None)}
    assert Refund.objects.count() == 7
    assert ledger_check() == []
