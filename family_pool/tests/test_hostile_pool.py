"""Hostile checks of the family pool's citizen view (INTERFACES.md §5–§6) through the API: before
the results date nothing of the batch's decision shows but "processing" — not even the time
it was decided, which differs between a deduction and a refusal; after it, the decision with
its time in Beijing time (+08:00)."""

from __future__ import annotations

from datetime import date

import pytest

from family_pool.batch import run_pool_batch
from family_pool.tests.test_batch import AT, YEAR, families


def member(client, token, kid) -> dict:
    resp = client.get(f"/api/v1/pool/memberships/{kid.id_number.lower()}", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert resp.status_code == 200
    return resp.json()["deduction"]


@pytest.mark.django_db
def test_the_citizen_view_tells_nothing_of_the_result_before_the_results_date(policies, settings, client,
                                                                              pool_token, staff_token):
    fam = families()
    settings.BUSINESS_DATE = date(2024, 12, 22)
    run_pool_batch(region="310000", year=YEAR, at=AT)
    paid, short = fam["A"][1][0], fam["B"][1][1]
    for day in (date(2024, 12, 22), date(2024, 12, 27)):
        settings.BUSINESS_DATE = day
        assert member(client, pool_token, paid) == member(client, pool_token, short) == {
            "status": "processing", "amount": "355.00", "decided_at": None}
        # staff see the actual state all along
        staff = client.get(f"/api/v1/enrollments/{paid.id_number}/{YEAR}", HTTP_AUTHORIZATION=f"Bearer {staff_token}")
        assert (staff.json()["status"], staff.json()["paid_via"]) == ("paid", "family_pool")
    settings.BUSINESS_DATE = date(2024, 12, 28)
    assert member(client, pool_token, paid) == {"status": "deducted", "amount": "355.00",
                                                "decided_at": "2024-12-22T10:00:00+08:00"}
    shown = member(client, pool_token, short)
    assert shown["status"] == "insufficient_balance" and shown["decided_at"].endswith("+08:00")


@pytest.mark.django_db
@pytest.mark.parametrize("at", ["2024-12-19T10:00:00+08:00", "2024-12-20T17:00:00", "2024-12-20T08:59:59Z"])
def test_the_batch_never_deducts_before_the_cut_off(policies, settings, at):
    from io import StringIO

    from django.core.management import call_command
    from django.core.management.base import CommandError

    from core.models import BatchRun
    from family_pool.models import AccountEntry, PoolDeduction
    from payments.models import Payment

    families()
    settings.BUSINESS_DATE = date(2024, 12, 22)
    entries = AccountEntry.objects.count()
    with pytest.raises(CommandError, match="截止"):
        call_command("run_pool_batch", region="310000", year=YEAR, at=at, stdout=StringIO())
    assert not BatchRun.objects.filter(kind="pool_batch").exists()
    assert not PoolDeduction.objects.exists() and not Payment.objects.filter(channel="family_pool").exists()
    assert AccountEntry.objects.count() == entries
    # a minute after the cut-off the run goes ahead
    out = StringIO()
    call_command("run_pool_batch", region="310000", year=YEAR, at="2024-12-20T17:01:00+08:00", stdout=out)
    assert '"deducted": 5' in out.getvalue()


@pytest.mark.django_db
def test_a_settlement_request_id_with_a_nul_is_invalid_input_not_a_500(policies, settings, client, staff_token):
    import json

    from family_pool.models import MedicalSettlement
    from family_pool.networks import network_create
    from family_pool.tests.pool_support import employee

    settings.BUSINESS_DATE = date(2024, 12, 10)
    org = employee("310101", "19800101", "011", name="张组建", region="310000", hist="2000.00")
    n = network_create(organizer_id_number=org.id_number, actor="test")
    resp = client.post(f"/api/v1/pool/networks/{n.pk}/settlements", json.dumps(
        {"id_number": org.id_number, "request_id": "HIS-\u0000-1", "cost": "10.00"}),
        content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {staff_token}")
    assert (resp.status_code, resp.json()["error"]["code"]) == (422, "invalid_input")
    assert not MedicalSettlement.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("region,message", [
    ("141181", "吕梁市 2026 年度政策未设定共济缴费选择截止时间（来源文件未给出）"),  # 孝义 runs 吕梁's policy
    ("141100", "吕梁市 2026 年度政策未设定共济缴费选择截止时间（来源文件未给出）"),
    ("999999", "未知地区 '999999'"),
])
def test_the_batch_command_takes_a_county_as_its_city_and_names_what_is_missing(policies, region, message):
    from io import StringIO

    from django.core.management import call_command
    from django.core.management.base import CommandError

    from core.models import BatchRun

    with pytest.raises(CommandError) as exc:
        call_command("run_pool_batch", region=region, year=2026, at="2025-12-22T10:00:00+08:00", stdout=StringIO())
    assert message in str(exc.value)
    assert not BatchRun.objects.filter(kind="pool_batch").exists()
