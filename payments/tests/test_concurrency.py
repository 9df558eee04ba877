"""The channel API under concurrency (issue 10, "Must show"): threads posting at once over
real HTTP to pytest-django's live server (a thread per request, each with its own
PostgreSQL connection), then what the database holds.

- the same payment 50 times at once → one Payment, one 201 and 49 × 200 with the same body;
- ten transactions for one person-year at once → one applied, nine ``already_paid``, each
  kept as a duplicate with a refund queued;
- two channels paying the same person-year at once → one applied, one duplicate + refund;
- ``ledger_check()`` empty after each.

Every connection is opened before the threads are released together: the development
server's listen queue is short (request_queue_size 10), so fifty threads connecting at
once would be served as the queue drains and would not race at all.  With the connections
open, the barrier releases only the writes of the requests."""

from __future__ import annotations

import http.client
import json
import threading
import urllib.parse
from datetime import date
from decimal import Decimal

import pytest

from accounts.services import api_token_create
from enrollment.models import Enrollment
from enrollment.tests.support import person, register
from payments.models import Payment, Refund
from payments.services import ledger_check
from payments.tests.test_api import NOV, carried

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("policies")]


@pytest.fixture
def token(settings):
    # the live server runs in this process (a thread), so the pinned business date holds there too;
    # test_the_pinned_date_holds_in_the_live_server proves it
    settings.BUSINESS_DATE = NOV
    _, raw = api_token_create(name="concurrency", scope="channel")
    return raw


@pytest.fixture
def li(token):
    r = person("141102", "19800501", name="李四")
    carried(r, 2025)  # continuously enrolled: no waiting, 2026 due 400.00
    register(r, 2026, NOV)
    return r


def body(resident, **over) -> dict:
    out = {"channel": "wechat", "txn_id": "WX-0001", "id_number": resident.id_number, "name": resident.name,
           "year": 2026, "amount": "400.00", "paid_at": "2025-11-10T10:30:00+08:00"}
    out.update(over)
    return out


def race(base: str, token: str, bodies: list[dict]) -> list[tuple[int, dict]]:
    """POST each body from its own thread, all released together on connections opened
    beforehand; (status, JSON answer) of each, in the order of ``bodies``."""
    host = urllib.parse.urlsplit(base)
    conns = []
    for _ in bodies:
        conn = http.client.HTTPConnection(host.hostname, host.port, timeout=60)
        conn.connect()
        conns.append(conn)
    barrier = threading.Barrier(len(bodies), timeout=30)
    results: list = [None] * len(bodies)
    errors: list[str] = []

    def run(i: int) -> None:
        payload = json.dumps(bodies[i]).encode()
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        try:
            barrier.wait()
            conns[i].request("POST", "/api/v1/payments", payload, headers)
            resp = conns[i].getresponse()
            results[i] = (resp.status, json.loads(resp.read()))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(f"{i}: {exc!r}")
        finally:
            conns[i].close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(bodies))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(90)
    assert errors == [] and None not in results
    return results


def posted():
    return Payment.objects.exclude(channel="carried_over")


def statuses(results) -> dict[int, int]:
    out: dict[int, int] = {}
    for status, _ in results:
        out[status] = out.get(status, 0) + 1
    return out


def test_the_pinned_date_holds_in_the_live_server(live_server, token, li):
    """Dues are priced at the server's today: 2025-11-10 is inside Lüliang's days 1–25; the
    real date (day 26 or later of a month, or another year) would answer otherwise."""
    query = urllib.parse.urlencode({"id_number": li.id_number, "name": li.name, "year": 2026})
    host = urllib.parse.urlsplit(live_server.url)
    conn = http.client.HTTPConnection(host.hostname, host.port, timeout=30)
    conn.request("GET", f"/api/v1/dues?{query}", headers={"Authorization": f"Bearer {token}"})
    resp = conn.getresponse()
    assert (resp.status, json.loads(resp.read())) == (200, {
        "name": "李四", "region": "141100", "year": 2026, "category": "resident", "amount_due": "400.00",
        "status": "unpaid"})
    conn.close()
    # and a payment dated the day after the pinned date is "after today" there
    results = race(live_server.url, token, [body(li, paid_at="2025-11-11T10:00:00+08:00")])
    assert results[0][0] == 422 and results[0][1]["error"]["code"] == "invalid_input"


def test_the_same_payment_fifty_times_at_once_lands_once(live_server, token, li):
    results = race(live_server.url, token, [body(li)] * 50)
    assert statuses(results) == {201: 1, 200: 49}
    first = next(answer for status, answer in results if status == 201)
    assert all(answer == first for _, answer in results)
    p = posted().get()
    assert first == {"payment_id": p.pk, "status": "paid", "benefit_start": "2026-01-01"}
    assert (p.outcome, p.amount, p.channel, p.txn_id) == ("applied", Decimal("400.00"), "wechat", "WX-0001")
    e = Enrollment.objects.get(resident=li, year=2026)
    assert (e.status, e.paid_amount, e.paid_on) == ("paid", Decimal("400.00"), NOV)
    assert not Refund.objects.exists()
    assert ledger_check() == []


def test_ten_transactions_for_one_person_year_at_once_one_lands_nine_are_refunded(live_server, token, li):
    bodies = [body(li, txn_id=f"WX-{i:04d}") for i in range(10)]
    results = race(live_server.url, token, bodies)
    assert statuses(results) == {201: 1, 409: 9}
    assert {answer["error"]["code"] for status, answer in results if status == 409} == {"already_paid"}
    winner = next(bodies[i]["txn_id"] for i, (status, _) in enumerate(results) if status == 201)
    assert posted().filter(outcome="applied").get().txn_id == winner
    duplicates = posted().filter(outcome="duplicate")
    assert duplicates.count() == 9
    assert {p.txn_id for p in duplicates} == {b["txn_id"] for b in bodies} - {winner}
    refunds = Refund.objects.all()
    assert refunds.count() == 9
    assert {r.source_payment_id for r in refunds} == {p.pk for p in duplicates}
    assert {(r.reason, r.amount, r.status) for r in refunds} == {("duplicate", Decimal("400.00"), "requested")}
    e = Enrollment.objects.get(resident=li, year=2026)
    assert (e.status, e.paid_amount) == ("paid", Decimal("400.00"))
    assert ledger_check() == []


def test_two_channels_paying_the_same_person_year_at_once_one_payment_one_refund(live_server, token, li):
    bodies = [body(li, channel="wechat", txn_id="WX-1"), body(li, channel="alipay", txn_id="ALI-1")]
    results = race(live_server.url, token, bodies)
    assert sorted(status for status, _ in results) == [201, 409]
    loser = next(answer for status, answer in results if status == 409)
    assert loser["error"]["code"] == "already_paid"
    assert sorted(posted().values_list("outcome", flat=True)) == ["applied", "duplicate"]
    dup = posted().get(outcome="duplicate")
    refund = Refund.objects.get()
    assert (refund.source_payment_id, refund.amount, refund.reason) == (dup.pk, Decimal("400.00"), "duplicate")
    assert ledger_check() == []


def test_many_people_paying_at_once_each_lands_once(live_server, token):
    """Different people at once do not wait on each other's answers or lose any: ten
    people, each payment posted twice at once (a client retrying) → ten 201, ten 200."""
    people = []
    for i in range(10):
        r = person("141102", "19800501", f"{i * 2 + 1:03d}", name=f"张{i}")
        carried(r, 2025)
        register(r, 2026, NOV)
        people.append(r)
    bodies = [body(r, txn_id=f"WX-{r.id_number}") for r in people]
    results = race(live_server.url, token, bodies + bodies)
    assert statuses(results) == {201: 10, 200: 10}
    assert [a for _, a in results[:10]] == [a for _, a in results[10:]]
    assert posted().filter(outcome="applied").count() == 10 and not posted().exclude(outcome="applied").exists()
    assert Enrollment.objects.filter(year=2026, status="paid").count() == 10
    assert ledger_check() == []
    assert date(2026, 1, 1).isoformat() in {a["benefit_start"] for _, a in results}
