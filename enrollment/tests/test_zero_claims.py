"""Zero-claim years (004 (一)Q1 基金零报销激励) from the data: recorded by the bureau, read by
the facts selector as history "resident_zero_claim" for the year before the quote's — the
single statement and the batch alike — refused with nothing written when they cannot hold,
audited, and entered on the resident page."""

from __future__ import annotations

from datetime import date

import pytest

from enrollment.models import ZeroClaimYear
from enrollment.selectors import PersonFacts, coverage_history, quote_request_of, quote_requests_for
from enrollment.services import EnrollmentError
from enrollment.zero_claims import zero_claim_record

from .support import caseworker, paid_row, person, register

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("policies")]
TODAY = date(2026, 11, 30)
RESIDENTS = "/admin/enrollment/resident/"


@pytest.fixture
def shanghai_person():
    r = person("310101", "19800501", "011", name="钱零报", today=TODAY)
    paid_row(r, 2024)
    paid_row(r, 2025)
    return r


def histories(r, year=2026):
    facts = PersonFacts.of(r)
    single = quote_request_of(facts, year, date(year - 1, 12, 1)).history
    batch = quote_requests_for([facts], year, date(year - 1, 12, 1))[r.id_number].history
    file_row = quote_requests_for([PersonFacts.of(r, resident_id=None)], year, date(year - 1, 12, 1))[r.id_number]
    return single, batch, file_row.history


def test_a_recorded_year_reads_as_zero_claim_the_year_after_on_every_path(shanghai_person):
    r = shanghai_person
    assert histories(r) == ({2024: "resident", 2025: "resident"},) * 3
    row = zero_claim_record(resident=r, year=2025, source="医保结算系统 2025 年度零报销名单", actor=None, today=TODAY)
    stored = ZeroClaimYear.objects.get()
    assert (stored.resident_id, stored.id_number, stored.year, stored.source) == (
        r.pk, r.id_number, 2025, "医保结算系统 2025 年度零报销名单")
    assert row.pk == stored.pk
    expected = {2024: "resident", 2025: "resident_zero_claim"}
    assert histories(r) == (expected,) * 3
    assert coverage_history(r) == expected
    # only the year before the quote's is read by the rules' facts: 2024 recorded changes 2025's quote
    zero_claim_record(resident=r, year=2024, source="名单", actor=None, today=TODAY)
    assert histories(r, 2025) == ({2024: "resident_zero_claim"},) * 3
    assert coverage_history(r) == {2024: "resident_zero_claim", 2025: "resident_zero_claim"}


def test_the_event_names_the_action(shanghai_person):
    row = zero_claim_record(resident=shanghai_person, year=2025, source="名单", actor=None, today=TODAY)
    event = ZeroClaimYear.pgh_event_model.objects.get(pgh_obj_id=row.pk)
    assert (event.pgh_label, event.pgh_context.metadata["action"]) == ("insert", "zero_claim_record")


@pytest.mark.parametrize("year, source, code, message", [
    (2026, "名单", "invalid_input", "2026 年度尚未结束（今天是 2026-11-30），不能登记为零报销年度"),
    (2023, "名单", "not_enrolled", "钱零报 2023 年度未在本市缴费参保，不能登记为零报销年度"),
    (2025, "  ", "invalid_input", "请填写依据（如医保结算系统的零报销名单）"),
    (1800, "名单", "invalid_input", "零报销年度应为 1990–2100 的年份，收到 1800"),
])
def test_refusals_write_nothing(shanghai_person, year, source, code, message):
    with pytest.raises(EnrollmentError) as info:
        zero_claim_record(resident=shanghai_person, year=year, source=source, actor=None, today=TODAY)
    assert (info.value.code, info.value.message) == (code, message)
    assert not ZeroClaimYear.objects.exists()


def test_a_registered_but_unpaid_year_and_a_second_record_are_refused():
    r = person("330203", "19800101", "017", name="吴未缴", today=date(2024, 11, 1))
    register(r, 2025, date(2024, 11, 1))
    with pytest.raises(EnrollmentError) as info:
        zero_claim_record(resident=r, year=2025, source="名单", actor=None, today=TODAY)
    assert info.value.code == "not_enrolled"
    paid = person("330203", "19810101", "028", name="李已缴", today=date(2024, 11, 1))
    paid_row(paid, 2025)
    zero_claim_record(resident=paid, year=2025, source="名单", actor=None, today=TODAY)
    with pytest.raises(EnrollmentError) as info:
        zero_claim_record(resident=paid, year=2025, source="另一份名单", actor=None, today=TODAY)
    assert (info.value.code, info.value.message) == ("duplicate", "李已缴 的 2025 年度已登记为零报销年度")
    assert list(ZeroClaimYear.objects.values_list("resident_id", "source")) == [(paid.pk, "名单")]


def test_entered_on_the_resident_page(client, settings, shanghai_person):
    from .test_admin import change_data

    settings.BUSINESS_DATE = TODAY
    user = caseworker("cw310zc", "310000")
    client.force_login(user)
    r = shanghai_person
    page = client.get(f"{RESIDENTS}{r.pk}/change/").content.decode()
    assert "零报销年度（当年基金零报销，下一年度大病保险限额按政策提高）" in page
    data = {**change_data(r), "zero_claim_years-TOTAL_FORMS": "1", "zero_claim_years-INITIAL_FORMS": "0",
            "zero_claim_years-0-resident": str(r.pk), "zero_claim_years-0-year": "2025",
            "zero_claim_years-0-source": "医保结算系统名单"}
    resp = client.post(f"{RESIDENTS}{r.pk}/change/", data)
    assert resp.status_code == 302
    row = ZeroClaimYear.objects.get()
    assert (row.year, row.source, row.recorded_by_id) == (2025, "医保结算系统名单", user.pk)
    # the year not ended: the caseworker reads why, nothing is written
    ZeroClaimYear.objects.all().delete()
    data["zero_claim_years-0-year"] = "2026"
    resp = client.post(f"{RESIDENTS}{r.pk}/change/", data, follow=True)
    assert "2026 年度尚未结束（今天是 2026-11-30），不能登记为零报销年度" in resp.content.decode()
    assert not ZeroClaimYear.objects.exists()
