"""Cancelling a paid flexible-employment enrollment with a refund (flexible_cancel_paid): the
enrollment cancelled with its benefits stopped on the business date, a refund request of its
ledger payment in the one refund queue (four eyes, paid out as a ledger record), the ledger
check empty throughout; refusals leave nothing written; the admin's 注销登记 page says what
follows and asks to confirm.  Everything read back from PostgreSQL."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.db import connection

from enrollment.tests.support import auditor, caseworker, msgs, person
from flexible.models import FlexibleEnrollment
from flexible.services import FlexibleError, flexible_cancel_paid, flexible_enroll, flexible_record_payment
from payments import refunds
from payments.models import Payment, Refund
from payments.refunds import RefundError
from payments.services import ledger_check

pytestmark = pytest.mark.django_db
DEC1 = date(2024, 12, 1)
URL = "/admin/flexible/flexibleenrollment/"
FLEX = "flexible_employment"


@pytest.fixture
def day(settings):
    def pin(d: date):
        settings.BUSINESS_DATE = d
    pin(DEC1)
    return pin


@pytest.fixture
def wang(policies, day):
    return person("610402", "19700101", name="王建国", today=DEC1)


def flex_caseworker(username, *regions):
    user = caseworker(username, *regions)
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="flexible"))
    return user


@pytest.fixture
def a(db):
    return flex_caseworker("flex_a", "610400")


@pytest.fixture
def b(db):
    return flex_caseworker("flex_b", "610400")


def enrolled(resident, status="in_service"):
    return flexible_enroll(resident=resident, year=2025, person_status=status, file_held_at="reemployment_centre",
                           paid_previous_year=True, actor=None, today=DEC1)


def paid(day, resident, on=date(2024, 12, 20), amount="3676.80", txn="SW-1", status="in_service"):
    """Enrolled for 2025 and paid at the tax hall on ``on`` (the business date then that day)."""
    e = enrolled(resident, status)
    day(on)
    flexible_record_payment(enrollment=e, amount=Decimal(amount), paid_on=on, actor="柜台", channel="tax_hall",
                            txn_id=txn)
    return FlexibleEnrollment.objects.get(pk=e.pk)


def snapshot():
    """Every row this feature could write, to prove a refusal wrote none of them."""
    return (list(FlexibleEnrollment.objects.order_by("pk").values()), list(Payment.objects.order_by("pk").values()),
            list(Refund.objects.order_by("pk").values()),
            FlexibleEnrollment.pgh_event_model.objects.count(), Refund.pgh_event_model.objects.count())


# --- the service ---------------------------------------------------------------------------


def test_a_year_not_begun_gets_an_empty_period_and_the_whole_payment_is_requested_back(wang, day, a):
    e = paid(day, wang)
    p = Payment.objects.get()
    assert (e.status, e.benefit_start, e.benefit_end, e.payment_id) == (
        "paid", date(2025, 1, 1), date(2025, 12, 31), p.pk)
    day(date(2024, 12, 23))
    r = flexible_cancel_paid(enrollment=e, reason="参加职工医保，本人申请注销", actor=a)
    row = FlexibleEnrollment.objects.get(pk=e.pk)
    assert (row.status, row.cancel_reason, row.benefit_start, row.benefit_end, row.payment_id, row.paid_amount,
            row.paid_on) == ("cancelled", "参加职工医保，本人申请注销", date(2025, 1, 1), date(2024, 12, 31), None,
                             Decimal("3676.80"), date(2024, 12, 20))
    assert row.cancelled_at.date() == date(2024, 12, 23)
    assert (e.status, e.benefit_end) == ("cancelled", date(2024, 12, 31))  # the caller's object follows
    # who and why: the audit trail of the enrollment's change
    event = row.events.order_by("-pgh_id").first()
    assert (event.status, event.pgh_context.metadata["user"], event.pgh_context.metadata["action"],
            event.pgh_context.metadata["reason"]) == ("cancelled", a.pk, "flexible_cancel_paid",
                                                      "参加职工医保，本人申请注销")
    got = Refund.objects.get()
    assert got.pk == r.pk
    assert (got.reason, got.amount, got.status, got.enrollment_id, got.source_payment_id, got.requested_by_id,
            got.id_number, got.name, got.region_id, got.year, got.note) == (
        "cancel_paid", Decimal("3676.80"), "requested", None, p.pk, a.pk, wang.id_number, "王建国", "610400", 2025,
        "注销已缴费的灵活就业人员医疗保险登记：参加职工医保，本人申请注销")
    # the payment stays applied on the ledger, still naming the enrollment; the two agree
    p.refresh_from_db()
    assert (p.outcome, p.scheme, p.scheme_enrollment_id, p.amount) == ("applied", FLEX, e.pk, Decimal("3676.80"))
    assert ledger_check() == []


@pytest.mark.parametrize("paid_on, cancel_on, start, end", [
    # interrupted 3 months, made up: benefits from the payment date, stopped on the business date
    (date(2025, 3, 31), date(2025, 6, 15), date(2025, 3, 31), date(2025, 6, 15)),
    # first enrolment: 3 months' waiting, benefits from 07-01; cancelled before: an empty period
    (date(2025, 4, 1), date(2025, 5, 10), date(2025, 7, 1), date(2025, 6, 30)),
    # a year already over: its end is kept, never lengthened to the business date
    (date(2024, 12, 20), date(2026, 2, 1), date(2025, 1, 1), date(2025, 12, 31)),
])
def test_benefits_stop_on_the_business_date(wang, day, a, paid_on, cancel_on, start, end):
    e = paid(day, wang, on=paid_on)
    assert e.benefit_start == start
    day(cancel_on)
    flexible_cancel_paid(enrollment=e, reason="本人申请注销", actor=a)
    row = FlexibleEnrollment.objects.get(pk=e.pk)
    assert (row.status, row.benefit_start, row.benefit_end, row.cancelled_at.date()) == (
        "cancelled", start, end, cancel_on)
    assert Refund.objects.get().amount == Decimal("3676.80")
    assert ledger_check() == []


def test_the_refund_goes_through_the_queue_four_eyes_and_onto_the_ledger(wang, day, a, b):
    e = paid(day, wang)
    p = Payment.objects.get()
    day(date(2024, 12, 23))
    r = flexible_cancel_paid(enrollment=e, reason="本人申请注销", actor=a)
    with pytest.raises(RefundError) as exc:
        refunds.refund_decide(refund=r, approve=True, actor=a)  # never by its requester
    assert (exc.value.code, exc.value.message) == (
        "four_eyes", f"退费申请 {r.pk} 由您本人申请，须由另一名经办人员审核（双人复核）")
    assert (Refund.objects.get().status, Refund.objects.get().decided_by_id) == ("requested", None)
    with pytest.raises(RefundError) as exc:
        refunds.refund_pay(refund=r, actor=b)
    assert exc.value.code == "not_approved"
    assert not Payment.objects.filter(kind="refund").exists()
    refunds.refund_decide(refund=r, approve=True, actor=b)
    assert ledger_check() == []
    out = refunds.refund_pay(refund=r, actor=b)
    rec = Payment.objects.get(kind="refund")
    assert rec.pk == out.pk
    assert (rec.outcome, rec.channel, rec.txn_id, rec.amount, rec.refund_of_id, rec.scheme, rec.scheme_enrollment_id,
            rec.enrollment_id, rec.id_number, rec.region_id, rec.year, rec.paid_on, rec.recorded_by_id) == (
        "refund", "refund", f"RF-{r.pk}", Decimal("-3676.80"), p.pk, FLEX, e.pk, None, wang.id_number, "610400",
        2025, date(2024, 12, 23), b.pk)
    got = Refund.objects.get()
    assert (got.status, got.decided_by_id, got.payment_id) == ("paid", b.pk, rec.pk)
    assert refunds.refundable(p) == Decimal("0.00")
    assert ledger_check() == []


def test_a_rejected_refund_leaves_the_enrollment_cancelled_and_the_ledger_consistent(wang, day, a, b):
    e = paid(day, wang)
    r = flexible_cancel_paid(enrollment=e, reason="本人申请注销", actor=a)
    refunds.refund_decide(refund=r, approve=False, actor=b, note="材料不全")
    assert FlexibleEnrollment.objects.get(pk=e.pk).status == "cancelled"
    assert ledger_check() == []


def test_the_person_may_enrol_and_pay_again_for_the_year(wang, day, a):
    e = paid(day, wang)
    day(date(2024, 12, 21))
    flexible_cancel_paid(enrollment=e, reason="登记信息有误，注销重办", actor=a)
    again = paid(day, wang, on=date(2024, 12, 21), txn="SW-2")
    assert (again.status, again.benefit_start) == ("paid", date(2025, 1, 1))
    assert sorted(Payment.objects.filter(outcome="applied").values_list("scheme_enrollment_id", flat=True)) == [
        e.pk, again.pk]
    assert ledger_check() == []


def test_the_ledger_check_still_sees_a_cancelled_enrollment_that_disagrees(wang, day, a):
    e = paid(day, wang)
    flexible_cancel_paid(enrollment=e, reason="本人申请注销", actor=a)
    with connection.cursor() as cur:  # the kept paid columns edited behind the service's back
        cur.execute("UPDATE flexible_flexibleenrollment SET paid_amount = 3000 WHERE id = %s", [e.pk])
    assert ledger_check() == [
        (FLEX, "enrollment", e.pk, "cancelled", Decimal("3000.00"), None),
        (FLEX, "payment", e.pk, "cancelled", Decimal("3000.00"), Decimal("3676.80"))]


@pytest.mark.django_db(transaction=True)
def test_two_caseworkers_cancelling_at_once_make_one_refund(wang, day, a, b):
    import threading

    from django.db import connections

    e = paid(day, wang)
    gate = threading.Barrier(2)
    results = {}

    def cancel(user):
        try:
            gate.wait()
            results[user.username] = flexible_cancel_paid(enrollment=e, reason="本人申请注销", actor=user).amount
        except FlexibleError as exc:
            results[user.username] = exc.code
        finally:
            connections.close_all()

    threads = [threading.Thread(target=cancel, args=(u,)) for u in (a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(map(str, results.values())) == ["3676.80", "enrollment_cancelled"]
    assert Refund.objects.count() == 1
    assert FlexibleEnrollment.objects.get(pk=e.pk).status == "cancelled"
    assert ledger_check() == []


# --- refusals: in words, with codes, nothing written ----------------------------------------


def test_without_a_reason_nothing_is_written(wang, day, a):
    e = paid(day, wang)
    before = snapshot()
    for reason in ("", "   ", None):
        with pytest.raises(FlexibleError) as exc:
            flexible_cancel_paid(enrollment=e, reason=reason, actor=a)
        assert (exc.value.code, exc.value.message) == ("invalid_input", "注销须填写原因")
    assert snapshot() == before
    assert FlexibleEnrollment.objects.get(pk=e.pk).status == "paid"


def test_an_unpaid_enrollment_is_refused(wang, day, a):
    e = enrolled(wang)
    before = snapshot()
    with pytest.raises(FlexibleError) as exc:
        flexible_cancel_paid(enrollment=e, reason="本人申请注销", actor=a)
    assert (exc.value.code, exc.value.message) == (
        "not_paid", "2025 年度灵活就业人员医疗保险已登记（待缴费），不是已缴费登记，无可退费用；未缴费的登记请直接注销")
    assert snapshot() == before


def test_an_enrollment_already_cancelled_is_refused(wang, day, a):
    e = paid(day, wang)
    flexible_cancel_paid(enrollment=e, reason="本人申请注销", actor=a)
    before = snapshot()
    with pytest.raises(FlexibleError) as exc:
        flexible_cancel_paid(enrollment=e, reason="再次注销", actor=a)
    assert (exc.value.code, exc.value.message) == ("enrollment_cancelled", "2025 年度灵活就业人员医疗保险登记已注销")
    assert snapshot() == before
    assert Refund.objects.count() == 1


@pytest.mark.parametrize("status", ["requested", "paid"])
def test_a_payment_already_in_the_queue_or_refunded_is_refused(wang, day, a, b, status):
    e = paid(day, wang)
    p = Payment.objects.get()
    # the whole payment already requested back (or refunded) some other way
    Refund.objects.create(source_payment=p, id_number=p.id_number, name=p.name, region_id="610400", year=2025,
                          reason="cancel_paid", amount=p.amount, status=status, requested_by=b)
    before = snapshot()
    with pytest.raises(FlexibleError) as exc:
        flexible_cancel_paid(enrollment=e, reason="本人申请注销", actor=a)
    assert (exc.value.code, exc.value.message) == (
        "over_refund", "2025 年度灵活就业人员医疗保险缴费 3676.80 元已全部退还或在退费中，不能注销并申请退费")
    assert snapshot() == before
    assert FlexibleEnrollment.objects.get(pk=e.pk).status == "paid"


def test_the_queue_refuses_a_payment_that_is_not_an_applied_one(wang, day, a):
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from payments.services import payment_record

    paid(day, wang)
    recorded = payment_record(channel="wechat", txn_id="WX-DUP", id_number=wang.id_number, name="王建国", year=2025,
                              amount=Decimal("3676.80"), actor="test", scheme=FLEX,
                              paid_at=datetime(2024, 12, 20, 15, tzinfo=ZoneInfo("Asia/Shanghai")))
    assert recorded.status == 409  # a duplicate, queued for refund by the ledger itself
    before = snapshot()
    with pytest.raises(RefundError) as exc:
        refunds.scheme_refund_request(source_payment=recorded.payment, reason="cancel_paid",
                                      amount=Decimal("3676.80"), actor=a)
    assert (exc.value.code, exc.value.message) == ("invalid_input", "所退缴费不是其他险种参保登记的缴费记录")
    assert snapshot() == before


# --- the admin ------------------------------------------------------------------------------


def cancel_post(e, **kw):
    return {"action": "cancel_with_reason", "_selected_action": [e.pk], **kw}


def test_the_admin_confirms_then_cancels_with_a_refund(client, wang, day, a, b):
    e = paid(day, wang)
    day(date(2024, 12, 23))
    client.force_login(a)
    page = client.post(URL, cancel_post(e))  # the action's page: what will happen, and the tick
    assert page.status_code == 200
    text = page.content.decode()
    assert ("其中 1 条已缴费。注销已缴费的登记将同时生成退费申请（退还该笔缴费尚未退还的部分，须由另一名经办人员审核后退付），"
            "待遇于 2024年12月23日 终止；当年待遇尚未开始的，注销后不再享受待遇。") in text
    assert "已缴 3676.80 元：将申请退还 3676.80 元，待遇原定 2025年1月1日 开始，注销后不再享受" in text
    assert 'name="refund_confirmed"' in text and "注销已缴费登记并申请退费" in text
    assert FlexibleEnrollment.objects.get(pk=e.pk).status == "paid"
    # without the tick: refused, nothing written
    before = snapshot()
    resp = client.post(URL, cancel_post(e, apply="1", reason="本人申请注销"))
    assert any("2025 年度已缴费，不能直接注销；如需注销并退费，请勾选“注销已缴费登记并申请退费”后确定" in m for m in msgs(resp))
    assert snapshot() == before
    # without a reason: the form says so, nothing written
    resp = client.post(URL, cancel_post(e, apply="1", reason="", refund_confirmed="on"))
    assert resp.status_code == 200 and "这个字段是必填项" in resp.content.decode()
    assert snapshot() == before
    # confirmed
    resp = client.post(URL, cancel_post(e, apply="1", reason="本人申请注销", refund_confirmed="on"))
    assert resp.status_code == 302
    assert "已注销 1 条已缴费登记并提交退费申请，合计 3676.80 元，待另一名经办人员审核" in msgs(resp)
    row = FlexibleEnrollment.objects.get(pk=e.pk)
    assert (row.status, row.cancel_reason, row.benefit_end) == ("cancelled", "本人申请注销", date(2024, 12, 31))
    r = Refund.objects.get()
    assert (r.reason, r.amount, r.status, r.requested_by_id, r.enrollment_id, r.source_payment_id) == (
        "cancel_paid", Decimal("3676.80"), "requested", a.pk, None, Payment.objects.get().pk)
    assert row.events.order_by("-pgh_id").first().pgh_context.metadata["user"] == a.pk
    page = client.get(f"{URL}{e.pk}/change/").content.decode()
    assert f"办税服务厅 SW-1，3676.80 元，2024-12-20（登记已注销；退费申请 {r.pk}：3676.80 元，待审核）" in page
    # the refund queue's admin: the requester cannot approve it; another caseworker does, and pays it out
    queue = "/admin/payments/refund/"
    assert "王建国" in client.get(queue).content.decode()
    resp = client.post(queue, {"action": "approve", "_selected_action": [r.pk]})
    assert f"退费申请 {r.pk}（王建国）：退费申请 {r.pk} 由您本人申请，须由另一名经办人员审核（双人复核）" in msgs(resp)
    assert Refund.objects.get().status == "requested"
    client.force_login(b)
    assert "已审核通过 1 条" in msgs(client.post(queue, {"action": "approve", "_selected_action": [r.pk]}))
    assert "已退付 1 条" in msgs(client.post(queue, {"action": "pay", "_selected_action": [r.pk]}))
    rec = Payment.objects.get(kind="refund")
    assert (rec.amount, rec.refund_of_id, rec.recorded_by_id, Refund.objects.get().status) == (
        Decimal("-3676.80"), r.source_payment_id, b.pk, "paid")
    assert ledger_check() == []


def test_the_admin_cancels_an_unpaid_one_as_before_beside_a_paid_one(client, wang, day, a):
    li = person("610402", "19720101", "027", name="李四", today=DEC1)
    unpaid = enrolled(li, "retired")
    e = paid(day, wang)
    client.force_login(a)
    resp = client.post(URL, {"action": "cancel_with_reason", "_selected_action": [unpaid.pk, e.pk], "apply": "1",
                             "reason": "本人申请注销", "refund_confirmed": "on"})
    assert "已注销 1 条登记；已注销 1 条已缴费登记并提交退费申请，合计 3676.80 元，待另一名经办人员审核" in msgs(resp)
    assert set(FlexibleEnrollment.objects.values_list("status", flat=True)) == {"cancelled"}
    assert Refund.objects.get().source_payment.scheme_enrollment_id == e.pk
    assert ledger_check() == []


def test_the_admin_is_region_scoped_and_needs_the_change_permission(client, wang, day):
    e = paid(day, wang)
    before = snapshot()
    for user in (flex_caseworker("flex_330", "330200"), auditor("aud_flex")):
        client.force_login(user)
        client.post(URL, cancel_post(e, apply="1", reason="本人申请注销", refund_confirmed="on"))
        assert snapshot() == before
    assert FlexibleEnrollment.objects.get(pk=e.pk).status == "paid"
    assert not Refund.objects.exists()
