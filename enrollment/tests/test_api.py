"""POST /api/v1/enrollments and GET /api/v1/enrollments/{id_number}/{year} (INTERFACES.md §5)."""

import json
from datetime import date
from decimal import Decimal

import pytest
from django.apps import apps

from accounts.models import ApiToken
from accounts.services import api_token_create, api_token_revoke
from enrollment.idnumbers import make_number
from enrollment.models import EmployeeCoverage, Enrollment
from enrollment.services import enrollment_cancel, enrollment_record_payment, resident_create

from .support import person, register, today_is

pytestmark = pytest.mark.usefixtures("policies")

URL = "/api/v1/enrollments"
NINGBO_DAY = date(2024, 11, 1)


@pytest.fixture
def api(client, staff_token):
    def call(method, url=URL, body=None, *, token=staff_token, raw=None):
        headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
        if method == "post":
            data = raw if raw is not None else json.dumps(body)
            return client.post(url, data=data, content_type="application/json", **headers)
        return client.get(url, **headers)

    return call


@pytest.fixture
def zhang():
    return person("330203", "19800101", "017", name="张三", today=NINGBO_DAY)


def body(r, **over):
    return {"id_number": r.id_number, "name": r.name, "region": r.region_id, "year": 2025,
            "registered_via": "online", **over}


def error(resp):
    return resp.status_code, resp.json()["error"]["code"]


# --- POST ---------------------------------------------------------------------------------------


def test_post_registers_and_answers_201(api, zhang):
    with today_is(NINGBO_DAY):
        resp = api("post", body=body(zhang))
    assert resp.status_code == 201
    assert resp.json() == {
        "id_number": zhang.id_number, "name": "张三", "region": "330200", "year": 2025,
        "category": "adult", "status": "registered", "registered_via": "online",
        "amount_due": "780.00", "paid_amount": None, "paid_via": None,
        "benefit_start": None, "benefit_end": None, "waiting_months": 0, "waiting_days": 0,
        "assistance": None,
    }
    e = Enrollment.objects.get(resident=zhang, year=2025)
    assert (e.status, e.registered_via, e.amount_due, e.registered_by) == (
        "registered", "online", Decimal("780.00"), None)
    event = apps.get_model("enrollment", "EnrollmentEvent").objects.select_related("pgh_context").get(
        pgh_obj_id=e.pk, pgh_label="insert")
    assert event.pgh_context.metadata["actor"] == "api token test-staff"
    assert event.pgh_context.metadata["action"] == "enrollment_register"


def test_post_normalises_the_id_number_and_accepts_the_policy_region_of_a_county(api):
    r = person("141181", "19850101", "011", name="孝义居民")
    lower = r.id_number[:6] + " " + r.id_number[6:].lower()
    with today_is(date(2025, 11, 3)):
        resp = api("post", body={**body(r), "id_number": lower, "region": "141100", "year": 2026,
                                 "registered_via": "community"})
    assert resp.status_code == 201
    assert (resp.json()["region"], resp.json()["amount_due"], resp.json()["id_number"]) == (
        "141181", "400.00", r.id_number)
    assert Enrollment.objects.get(resident=r).region_id == "141181"


def test_post_unknown_person_is_resident_not_found(api):
    number = make_number("33020319800101099")
    with today_is(NINGBO_DAY):
        resp = api("post", body={"id_number": number, "name": "无此人", "region": "330200", "year": 2025,
                                 "registered_via": "online"})
    assert error(resp) == (404, "resident_not_found")
    assert not Enrollment.objects.exists()


def test_post_name_and_region_must_match(api, zhang):
    with today_is(NINGBO_DAY):
        assert error(api("post", body=body(zhang, name="张四"))) == (422, "name_mismatch")
        assert error(api("post", body=body(zhang, region="630100"))) == (422, "region_mismatch")
    assert not Enrollment.objects.exists()


@pytest.mark.parametrize("change", [
    {"registered_via": "default_renewal"},
    {"registered_via": "fax"},
    {"year": "2025"},
    {"year": True},
    {"name": ""},
    {"id_number": "330203198001010170"},  # wrong check digit
    {"id_number": "12345"},
])
def test_post_invalid_input(api, zhang, change):
    b = body(zhang, **change)
    if change.get("id_number") == "330203198001010170":
        assert zhang.id_number != b["id_number"]
    with today_is(NINGBO_DAY):
        assert error(api("post", body=b)) == (422, "invalid_input")
    assert not Enrollment.objects.exists()


def test_post_missing_fields_and_malformed_json(api, zhang):
    b = body(zhang)
    del b["registered_via"]
    resp = api("post", body=b)
    assert error(resp) == (422, "invalid_input") and "registered_via" in resp.json()["error"]["message"]
    assert error(api("post", raw="{not json")) == (422, "invalid_input")
    assert error(api("post", body=[body(zhang)])) == (422, "invalid_input")
    assert not Enrollment.objects.exists()


def test_post_rule_errors_carry_their_codes(api, zhang):
    EmployeeCoverage.objects.create(id_number=zhang.id_number, name=zhang.name, region_code="330200", year=2025)
    with today_is(NINGBO_DAY):
        assert error(api("post", body=body(zhang))) == (422, "not_eligible")
        assert error(api("post", body=body(zhang, year=2040))) == (404, "policy_missing")
    other = person("330203", "19800101", "025", name="李四")
    with today_is(date(2026, 1, 5)):  # after Ningbo's 2025 benefit year
        assert error(api("post", body=body(other))) == (422, "window_closed")
    lv = person("141102", "19800501", "011", name="王五")
    with today_is(date(2026, 3, 2)):  # Lüliang late payment needs the fiscal subsidy: not in source
        resp = api("post", body=body(lv, year=2026))
    assert error(resp) == (422, "value_not_in_source")
    assert "财政补助" in resp.json()["error"]["message"]
    assert not Enrollment.objects.exists()


def test_post_twice_is_already_enrolled(api, zhang):
    with today_is(NINGBO_DAY):
        assert api("post", body=body(zhang)).status_code == 201
        assert error(api("post", body=body(zhang, registered_via="school"))) == (409, "already_enrolled")
    assert list(Enrollment.objects.values_list("registered_via", flat=True)) == ["online"]


# --- authentication ----------------------------------------------------------------------------


def test_tokens_are_required_and_scoped(api, zhang, channel_token):
    with today_is(NINGBO_DAY):
        assert error(api("post", body=body(zhang), token=None)) == (401, "unauthorized")
        assert error(api("post", body=body(zhang), token="not-a-token")) == (401, "unauthorized")
        assert error(api("post", body=body(zhang), token=channel_token)) == (403, "forbidden")
        assert error(api("get", f"{URL}/{zhang.id_number}/2025", token=channel_token)) == (403, "forbidden")
        assert error(api("get", f"{URL}/{zhang.id_number}/2025", token=None)) == (401, "unauthorized")
    assert not Enrollment.objects.exists()


def test_basic_auth_and_revoked_tokens_are_refused(client, zhang):
    token, raw = api_token_create(name="old", scope="staff")
    api_token_revoke(token=token)
    assert ApiToken.objects.get(pk=token.pk).revoked_at is not None
    for header in (f"Bearer {raw}", f"Basic {raw}", "Bearer "):
        resp = client.get(f"{URL}/{zhang.id_number}/2025", HTTP_AUTHORIZATION=header)
        assert error(resp) == (401, "unauthorized")


def test_wrong_method_is_405(api):
    resp = api("get")
    assert resp.status_code == 405 and resp["Allow"] == "POST"
    assert resp.json()["error"]["code"] == "method_not_allowed"


# --- GET ----------------------------------------------------------------------------------------


def detail_url(r, year=2025):
    return f"{URL}/{r.id_number}/{year}"


def test_get_registered_then_paid(api, zhang):
    e = register(zhang, 2025, NINGBO_DAY, via="school")
    resp = api("get", detail_url(zhang))
    assert resp.status_code == 200
    got = resp.json()
    assert {k: got[k] for k in ("status", "amount_due", "paid_amount", "paid_via", "benefit_start",
                                "benefit_end")} == {
        "status": "registered", "amount_due": "780.00", "paid_amount": None, "paid_via": None,
        "benefit_start": None, "benefit_end": None}
    assert (got["registered_via"], got["category"], got["year"]) == ("school", "adult", 2025)

    enrollment_record_payment(enrollment=e, amount=Decimal("780.00"), paid_on=date(2025, 2, 10),
                              paid_via="family_pool", actor=None)
    got = api("get", detail_url(zhang)).json()
    assert {k: got[k] for k in ("status", "amount_due", "paid_amount", "paid_via", "benefit_start",
                                "benefit_end", "waiting_months")} == {
        "status": "paid", "amount_due": "780.00", "paid_amount": "780.00", "paid_via": "family_pool",
        "benefit_start": "2025-05-10", "benefit_end": "2025-12-31", "waiting_months": 3}


def test_get_cancelled_and_reregistered(api, zhang):
    e = register(zhang, 2025, NINGBO_DAY)
    enrollment_cancel(enrollment=e, reason="登记错误", actor=None)
    assert api("get", detail_url(zhang)).json()["status"] == "cancelled"
    register(zhang, 2025, NINGBO_DAY, via="online")
    got = api("get", detail_url(zhang)).json()
    assert (got["status"], got["registered_via"]) == ("registered", "online")


def test_get_assistance_and_lower_case_x(api):
    # a number whose check digit is X, asked for with a lower-case x
    prefix = next(p for p in (f"14110219800501{n:03d}" for n in range(1000)) if make_number(p).endswith("X"))
    r = resident_create(id_number=make_number(prefix), name="低保户", region="141100", actor=None,
                        today=date(2025, 11, 3))
    from subsidies.models import AssistanceIdentity

    AssistanceIdentity.objects.create(id_number=r.id_number, name=r.name, region_id="141100", year=2026,
                                      identity="dibao", certified_on=date(2025, 6, 1))
    register(r, 2026, date(2025, 11, 3))
    resp = api("get", f"{URL}/{r.id_number.lower()}/2026")
    assert resp.status_code == 200
    assert (resp.json()["amount_due"], resp.json()["assistance"]) == (
        "80.00", {"identity": "dibao", "amount": "320.00"})


def test_get_not_registered(api, zhang):
    assert error(api("get", detail_url(zhang))) == (404, "not_registered")
    register(zhang, 2025, NINGBO_DAY)
    assert error(api("get", detail_url(zhang, 2026))) == (404, "not_registered")
    assert error(api("get", f"{URL}/{make_number('33020319800101099')}/2025")) == (404, "not_registered")


def test_openapi_documents_the_enrollment_endpoints_as_served(api, zhang):
    from config.openapi import schema

    doc = schema()
    assert {"/enrollments", "/enrollments/{id_number}/{year}"} <= set(doc["paths"])
    with today_is(NINGBO_DAY):
        answer = api("post", body=body(zhang)).json()
    enrollment = doc["components"]["schemas"]["Enrollment"]
    assert set(enrollment["required"]) <= set(answer)
    assert set(answer) == set(enrollment["properties"])
    assert set(doc["components"]["schemas"]["EnrollmentCreate"]["required"]) == set(body(zhang))


# --- bad input on the path and in the body (issue 8, items 6 and 9; HEAD) -------------------


@pytest.mark.parametrize("id_number", ["%00", "33020319800101001%00", "%E2%80%8B", "a" * 300, "%20"])
def test_get_with_an_impossible_id_number_is_422_invalid_input(api, id_number):
    """A NUL byte on the path reached PostgreSQL and answered 500.  A string that can never
    be an ID number is the caller's mistake (422 invalid_input, as the POST says), not a
    lookup that found nothing (404 not_registered)."""
    resp = api("get", f"{URL}/{id_number}/2026")
    assert error(resp) == (422, "invalid_input")
    assert "id_number" in resp.json()["error"]["message"]


@pytest.mark.parametrize("year", ["0", "99999999999999999999", "2147483648"])
def test_get_with_an_impossible_year_is_422_invalid_input(api, zhang, year):
    resp = api("get", f"{URL}/{zhang.id_number}/{year}")
    assert error(resp) == (422, "invalid_input")


@pytest.mark.parametrize("body", ["[" * 1_000, '{"id_number":' * 2_000, "[" * 200_000])
def test_post_deeply_nested_json_is_422(api, body):
    assert error(api("post", raw=body)) == (422, "invalid_input")


def test_post_over_the_body_cap_is_413(api):
    resp = api("post", raw=json.dumps({"name": "x" * 2_000_000}))
    assert error(resp) == (413, "payload_too_large")


def test_head_answers_as_get_without_a_body(api, zhang, client, staff_token):
    register(zhang, 2025, NINGBO_DAY)
    auth = {"HTTP_AUTHORIZATION": f"Bearer {staff_token}"}
    got = client.get(detail_url(zhang), **auth)
    head = client.head(detail_url(zhang), **auth)
    assert head.status_code == got.status_code == 200
    assert head.content == b""
    assert head["Content-Type"] == "application/json"
    assert int(head["Content-Length"]) == len(got.content)
    missing = client.head(detail_url(zhang, 2026), **auth)
    assert (missing.status_code, missing.content) == (404, b"")


@pytest.mark.parametrize("path", ["abc", "null,null", "２０２６"])
def test_get_with_a_year_that_is_not_a_number_is_422_json(api, zhang, path):
    """The resolver's <int:year> answered these with Django's HTML 404 page."""
    resp = api("get", f"{URL}/{zhang.id_number}/{path}")
    assert resp["Content-Type"] == "application/json"
    assert error(resp) == (422, "invalid_input")


def test_an_unknown_api_path_is_404_json(api):
    resp = api("get", "/api/v1/nowhere/at/all")
    assert resp["Content-Type"] == "application/json"
    assert error(resp) == (404, "not_found")
