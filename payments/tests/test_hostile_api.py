"""Hostile-channel checks of the channel API (INTERFACES.md §4–§5): one transaction brought
by two paths, the back-payment's transaction id — each refusal's code read back with what
the database holds afterwards."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from enrollment.models import Enrollment
from payments.models import Payment, Refund
from payments.services import ledger_check

from .test_api import business_date, call, err, li, pay, posted  # noqa: F401 (fixtures)
from .test_imports import command

pytestmark = pytest.mark.usefixtures("policies")

ROW = ["collective", "SCH-1", None, "李四", 2026, "400.00", "2025-11-10 10:30:00", "离石区实验小学"]


def row(li, **over):
    out = list(ROW)
    out[2] = li.id_number
    for i, key in enumerate(["channel", "txn_id", "id_number", "name", "year", "amount", "paid_at", "unit"]):
        out[i] = over.get(key, out[i])
    return out


def test_a_transaction_imported_then_posted_by_the_channel_with_the_same_content_is_the_same(
        call, li, tmp_path):
    code, summary, _ = command(tmp_path, [row(li)])
    assert (code, summary["paid"]) == (0, 1)
    first = posted().get()
    resp = call("post", "/api/v1/payments", pay(li, channel="collective", txn_id="SCH-1",
                                                paid_at="2025-11-10T02:30:00Z"))
    assert (resp.status_code, resp.json()) == (200, first.response)
    assert resp.json()["payment_id"] == first.pk
    assert posted().count() == 1 and not Refund.objects.exists()
    e = Enrollment.objects.get(resident=li, year=2026)
    assert (e.status, e.paid_amount) == ("paid", Decimal("400.00"))
    assert ledger_check() == []


@pytest.mark.parametrize("change", [{"paid_at": "2025-11-10T10:31:00+08:00"}, {"year": 2027}])
def test_a_transaction_imported_then_posted_with_other_content_is_a_conflict(call, li, tmp_path, change):
    command(tmp_path, [row(li)])
    before = list(Payment.objects.order_by("pk").values_list("pk", "amount", "outcome"))
    resp = call("post", "/api/v1/payments", pay(li, channel="collective", txn_id="SCH-1", **change))
    assert err(resp) == (409, "idempotency_conflict")
    assert list(Payment.objects.order_by("pk").values_list("pk", "amount", "outcome")) == before


def test_an_imported_duplicate_posted_again_by_the_channel_answers_already_paid_once(call, li, tmp_path):
    assert call("post", "/api/v1/payments", pay(li)).status_code == 201
    command(tmp_path, [row(li)])  # a second payment of the paid year: kept, queued for refund
    dup = posted().get(txn_id="SCH-1")
    assert dup.outcome == "duplicate" and Refund.objects.count() == 1
    resp = call("post", "/api/v1/payments", pay(li, channel="collective", txn_id="SCH-1"))
    assert err(resp) == (409, "already_paid")
    assert (posted().count(), Refund.objects.count()) == (2, 1)


def test_a_transaction_posted_by_the_channel_then_imported_with_the_same_content_is_unchanged(
        call, li, tmp_path):
    resp = call("post", "/api/v1/payments", pay(li, channel="collective", txn_id="SCH-1"))
    assert resp.status_code == 201
    code, summary, errors = command(tmp_path, [row(li)])
    assert (code, errors) == (0, [])
    assert summary == {"rows": 1, "paid": 0, "unchanged": 1, "already_paid": 0, "invalid_rows": 0,
                       "rejected": False}
    assert posted().count() == 1


# --- 断保补缴 (/api/v1/back-payments) ------------------------------------------------------------

@pytest.mark.parametrize("change", [{"txn_id": "BP\n1"}, {"txn_id": "BP\u200b1"}, {"txn_id": "BP\x001"},
                                    {"paid_at": "2025-06-01T09:00:00+08:00"},
                                    {"paid_at": "2025-12-31T15:59:59Z"}])  # 23:59:59 in Beijing: still 2025
def test_a_back_payment_refuses_an_invisible_txn_id_and_a_time_inside_the_break_year(change, client, settings,
                                                                                     channel_token):
    import json

    from enrollment.models import GapRepair
    from enrollment.tests.support import clone, person, register

    from .test_backpay import DAY, body

    settings.BUSINESS_DATE = DAY
    clone("310000", 2025, 2026)
    pupil = person("310101", "20150601", name="小明", student="primary_secondary", today=DAY)
    register(pupil, 2026, DAY)
    resp = client.post("/api/v1/back-payments", json.dumps(body(pupil, **change)), content_type="application/json",
                       HTTP_AUTHORIZATION=f"Bearer {channel_token}")
    assert err(resp) == (422, "invalid_input")
    assert not Payment.objects.exists() and not GapRepair.objects.exists()
    # the same back-payment with a clean id, paid after the year: recorded
    resp = client.post("/api/v1/back-payments", json.dumps(body(pupil, paid_at="2025-12-31T16:00:00Z")),
                       content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {channel_token}")
    assert resp.status_code == 201
    assert list(GapRepair.objects.values_list("year", flat=True)) == [2025]
    assert Payment.objects.get().paid_on == date(2026, 1, 1)


@pytest.mark.parametrize("change", [{"amount": "380.00"}, {"paid_at": "2025-11-10 10:31:00"}, {"year": 2027}])
def test_a_transaction_posted_by_the_channel_then_imported_with_other_content_is_a_conflict(
        call, li, tmp_path, change):
    assert call("post", "/api/v1/payments", pay(li, channel="collective", txn_id="SCH-1")).status_code == 201
    before = list(Payment.objects.order_by("pk").values_list("pk", "amount", "outcome"))
    code, summary, errors = command(tmp_path, [row(li, **change)])
    assert (code != 0, summary["rejected"], summary["invalid_rows"]) == (True, True, 1)
    assert any("交易流水号 SCH-1 已用于另一笔不同内容的缴费" in line for line in errors), errors
    assert list(Payment.objects.order_by("pk").values_list("pk", "amount", "outcome")) == before


@pytest.mark.parametrize("payer", [{"kind": "other_person", "name": "李\u0000父"}, {"kind": "self", "id": "\u0000"},
                                   {"kind": "other_person", "name": "\u202e父李"}, {"kind": "self", "name": "李\u200b父"}])
def test_a_payer_with_control_or_invisible_characters_is_invalid_input_not_a_500(call, li, payer):
    assert err(call("post", "/api/v1/payments", pay(li, payer=payer))) == (422, "invalid_input")
    assert not posted().exists()
    assert Enrollment.objects.get(resident=li, year=2026).status == "registered"
    resp = call("post", "/api/v1/payments", pay(li, payer={"kind": "other_person", "name": "李父"}))
    assert resp.status_code == 201
    assert posted().get().payer_name == "李父"


# --- a lone UTF-16 surrogate (a JSON escape UTF-8 cannot carry) --------------------------------

@pytest.mark.parametrize("url", ["/api/v1/payments", "/api/v1/back-payments"])
@pytest.mark.parametrize("field", ["txn_id", "name", "id_number", "channel"])
def test_a_lone_surrogate_in_any_field_is_invalid_input_and_writes_nothing(call, li, url, field):
    before = list(Payment.objects.order_by("pk").values_list("pk", "outcome"))
    resp = call("post", url, pay(li, **{field: "WX\ud8000001"}))  # json.dumps writes "\ud800"
    assert err(resp) == (422, "invalid_input")
    assert "代理项" in resp.json()["error"]["message"]
    assert list(Payment.objects.order_by("pk").values_list("pk", "outcome")) == before
    assert not Refund.objects.exists()
    assert Enrollment.objects.get(resident=li, year=2026).status == "registered"


def test_a_surrogate_pair_is_a_character_and_not_refused_as_a_lone_surrogate(call, li):
    resp = call("post", "/api/v1/payments", pay(li, txn_id="WX-\U0001F600-1"))  # "\ud83d\ude00"
    assert resp.status_code == 201, resp.json()
    assert posted().get().txn_id == "WX-\U0001F600-1"
