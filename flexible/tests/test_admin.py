"""The 灵活就业人员参保 admin: registering through the service (refusals on the form), the list
scoped to the caseworker's regions, recording a payment and cancelling with a reason."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission

from enrollment.tests.support import caseworker, msgs, person
from flexible.models import FlexibleEnrollment
from flexible.services import flexible_enroll

pytestmark = pytest.mark.django_db
URL = "/admin/flexible/flexibleenrollment/"
DEC1 = date(2024, 12, 1)


def flex_caseworker(username, *regions):
    user = caseworker(username, *regions)
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="flexible"))
    return user


@pytest.fixture(autouse=True)
def business_date(settings):
    settings.BUSINESS_DATE = DEC1  # the admin registers as of the business date


@pytest.fixture
def cw(client, policies):
    user = flex_caseworker("cw610", "610400")
    client.force_login(user)
    return user


@pytest.fixture
def wang(policies):
    return person("610402", "19700101", name="王建国", today=DEC1)


def form(number, **kw):
    data = {"id_number": number, "year": "2025", "person_status": "in_service",
            "file_held_at": "reemployment_centre", "paid_previous_year": "on"}
    data.update(kw)
    return data


def test_register_through_the_form(client, cw, wang):
    resp = client.post(f"{URL}add/", form(wang.id_number))
    assert resp.status_code == 302, resp.content.decode()[:2000]
    row = FlexibleEnrollment.objects.get()
    assert (row.resident_id, row.amount_due, row.registered_by) == (wang.pk, Decimal("3676.80"), cw)
    page = client.get(f"{URL}{row.pk}/change/").content.decode()
    assert "3676.80" in page and "3456.00" in page and "大额医疗补助" in page


@pytest.mark.parametrize("extra, message", [
    ({"file_held_at": "other_agency"}, "不能登记：市本级档案托管在其他人事代理机构的人员，请按原渠道缴纳"),
    ({"special_group": "on"}, "不能登记：特殊群体、困难军转干部、对越作战、涉核退休人员，请到咸阳市政务服务中心医保窗口咨询办理"),
])
def test_a_refusal_is_shown_on_the_form_and_nothing_written(client, cw, wang, extra, message):
    resp = client.post(f"{URL}add/", form(wang.id_number, **extra))
    assert resp.status_code == 200
    assert message in resp.context["adminform"].form.non_field_errors()
    assert not FlexibleEnrollment.objects.exists()


def test_a_resident_of_another_region_is_not_found(client, cw, policies):
    nb = person("330203", "19700101", today=DEC1)
    resp = client.post(f"{URL}add/", form(nb.id_number))
    assert resp.status_code == 200
    assert "没有这个参保人（或不在您负责的地区），请先在“参保人”中登记" in resp.context["adminform"].form.non_field_errors()
    assert not FlexibleEnrollment.objects.exists()


def test_the_list_is_scoped_to_the_caseworkers_regions(client, policies, wang):
    flexible_enroll(resident=wang, year=2025, person_status="retired", file_held_at="reemployment_centre",
                    paid_previous_year=True, actor=None, today=DEC1)
    other = flex_caseworker("cw330", "330200")
    client.force_login(other)
    resp = client.get(URL)
    assert resp.status_code == 200 and "王建国" not in resp.content.decode()
    row = FlexibleEnrollment.objects.get()
    assert client.get(f"{URL}{row.pk}/change/").status_code in (302, 404)
    client.force_login(flex_caseworker("cw610b", "610400"))
    assert "王建国" in client.get(URL).content.decode()


def test_record_payment_and_cancel_actions(client, cw, wang, settings):
    from payments.models import Payment
    from payments.services import ledger_check

    e = flexible_enroll(resident=wang, year=2025, person_status="in_service", file_held_at="reemployment_centre",
                        paid_previous_year=True, actor=None, today=DEC1)
    settings.BUSINESS_DATE = date(2025, 4, 2)
    pay = {"action": "record_payment", "_selected_action": [e.pk], "apply": "1", "paid_on": "2025-03-31",
           "channel": "tax_hall", "txn_id": "SW-20250331-01"}
    resp = client.post(URL, {**pay, "amount": "3676.00"})
    assert any("应缴 3676.80 元，实缴 3676.00 元，金额不符" in m for m in msgs(resp))
    assert FlexibleEnrollment.objects.get(pk=e.pk).status == "registered"
    assert not Payment.objects.exists()
    resp = client.post(URL, {**pay, "amount": "3676.80"})
    assert "已登记缴费 1 条" in msgs(resp)
    row = FlexibleEnrollment.objects.get(pk=e.pk)
    assert (row.status, row.timing, row.makeup_basic, row.benefit_start) == (
        "paid", "interrupted", Decimal("864.00"), date(2025, 3, 31))
    # the payment is a ledger row, under the caseworker's name, linked from the enrollment
    p = Payment.objects.get()
    assert (p.scheme, p.scheme_enrollment_id, p.enrollment_id, p.channel, p.txn_id, p.amount, p.paid_on,
            p.outcome, p.recorded_by, row.payment_id) == (
        "flexible_employment", e.pk, None, "tax_hall", "SW-20250331-01", Decimal("3676.80"), date(2025, 3, 31),
        "applied", cw, p.pk)
    assert ledger_check() == []
    page = client.get(f"{URL}{e.pk}/change/").content.decode()
    assert "办税服务厅 SW-20250331-01，3676.80 元，2025-03-31" in page
    assert "缴费日期为 2025年3月31日，《社会保险费缴费证明》缴费 5 日后即 2025年4月5日 起可以打印" in page
    resp = client.post(URL, {"action": "cancel_with_reason", "_selected_action": [e.pk], "apply": "1",
                             "reason": "重复登记"})
    assert any("已缴费，不能直接注销" in m for m in msgs(resp))
    assert FlexibleEnrollment.objects.get(pk=e.pk).status == "paid"


def test_one_transaction_id_is_not_used_for_several_payments(client, cw, wang, settings):
    from payments.models import Payment

    li = person("610402", "19720101", "027", name="李四", today=DEC1)
    ids = [flexible_enroll(resident=r, year=2025, person_status="retired", file_held_at="reemployment_centre",
                           paid_previous_year=True, actor=None, today=DEC1).pk for r in (wang, li)]
    resp = client.post(URL, {"action": "record_payment", "_selected_action": ids, "apply": "1",
                             "paid_on": "2024-12-01", "amount": "220.80", "channel": "tax_hall",
                             "txn_id": "SW-1"})
    assert any("一个交易流水号只对应一笔缴费，请逐条登记（或不填流水号）" in m for m in msgs(resp))
    assert not Payment.objects.exists()
    assert set(FlexibleEnrollment.objects.values_list("status", flat=True)) == {"registered"}
    # without a transaction id each gets a generated one
    resp = client.post(URL, {"action": "record_payment", "_selected_action": ids, "apply": "1",
                             "paid_on": "2024-12-01", "amount": "220.80", "channel": "tax_hall"})
    assert "已登记缴费 2 条" in msgs(resp)
    assert Payment.objects.filter(scheme="flexible_employment", txn_id__startswith="manual-").count() == 2
