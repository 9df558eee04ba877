"""The flexible-employment scheme over POST /api/v1/quote and in the OpenAPI document."""

import json

import pytest

from policy.rules.io import FLEXIBLE_FIELDS, FLEXIBLE_REQUEST_FIELDS

URL = "/api/v1/quote"
FLEX = {"region": "610400", "year": 2025, "paid_on": "2025-02-10", "scheme": "flexible_employment",
        "flexible": {"status": "in_service", "file_held_at": "reemployment_centre", "paid_previous_year": True}}
FLEX_RESULT = {
    "region": "610400", "year": 2025, "scheme": "flexible_employment", "status": "in_service",
    "parts": [{"component": "basic", "name": "基本医疗保险", "amount": "3456.00"},
              {"component": "large_medical", "name": "大额医疗补助", "amount": "172.80"},
              {"component": "critical_illness", "name": "大病保险", "amount": "48.00"}],
    "amount_due": "3676.80", "timing": "interrupted", "interruption_months": 2, "makeup_basic": "576.00",
    "benefit_start": "2025-02-10", "benefit_end": "2025-12-31", "waiting_months": 0,
    "certificate_from": "2025-02-15", "retired_from": None}


def post(client, payload, token, query=""):
    return client.post(URL + query, data=json.dumps(payload), content_type="application/json",
                       HTTP_AUTHORIZATION=f"Bearer {token}")


def test_flexible_quote_over_http(policies, client, staff_token):
    resp = post(client, FLEX, staff_token)
    assert resp.status_code == 200
    assert resp.json() == FLEX_RESULT


def test_region_without_the_scheme_is_404_scheme_not_offered(policies, client, staff_token):
    resp = post(client, dict(FLEX, region="330200"), staff_token)
    assert resp.status_code == 404
    assert resp.json() == {"error": {"code": "scheme_not_offered",
                                     "message": "宁波市 2025 年度没有灵活就业人员医疗保险的政策（来源文件未涉及）"}}
    resp = post(client, dict(FLEX, year=2031), staff_token)
    assert (resp.status_code, resp.json()["error"]["code"]) == (404, "policy_missing")


def test_refusal_is_422_not_eligible_in_plain_chinese(policies, client, staff_token):
    body = dict(FLEX, flexible=dict(FLEX["flexible"], file_held_at="other_agency"))
    resp = post(client, body, staff_token)
    assert resp.status_code == 422
    assert resp.json()["error"] == {"code": "not_eligible",
                                    "message": "市本级档案托管在其他人事代理机构的人员，请按原渠道缴纳"}


def test_an_array_mixes_both_schemes(policies, client, staff_token):
    resident = {"region": "610400", "year": 2025, "paid_on": "2024-11-01", "person": {"birth_date": "1980-05-01"}}
    resp = post(client, [resident, FLEX, dict(FLEX, region="310000")], staff_token)
    assert resp.status_code == 200
    first, second, third = resp.json()
    assert (first["category"], first["amount_due"]) == ("resident", "400.00")
    assert second == FLEX_RESULT
    assert third["error"]["code"] == "scheme_not_offered"


def test_cap_detail_only_when_asked(policies, client, staff_token):
    body = {"region": "310000", "year": 2025, "paid_on": "2024-11-01",
            "person": {"birth_date": "2015-03-01", "student": "primary_secondary"}}
    assert "cap_detail" not in post(client, body, staff_token).json()
    detail = post(client, body, staff_token, "?cap_detail=1").json()["cap_detail"]
    assert detail == {"continuous_years": 1, "increase_years": 0, "increase_per_year": None,
                      "zero_claim": False, "zero_claim_increase": None, "break_years": 0,
                      "break_decrease": None, "unset": []}


def test_openapi_documents_the_scheme(db, client):
    doc = client.get("/api/v1/openapi.json").json()
    schemas = doc["components"]["schemas"]
    assert schemas["QuoteRequest"]["properties"]["scheme"]["enum"] == ["resident"]
    flex = schemas["FlexibleQuoteRequest"]
    assert set(flex["properties"]) == FLEXIBLE_REQUEST_FIELDS
    assert set(flex["properties"]["flexible"]["properties"]) == FLEXIBLE_FIELDS
    assert set(schemas["FlexibleQuoteResult"]["required"]) == set(FLEX_RESULT)
    refs = json.dumps(doc["paths"]["/quote"]["post"])
    assert "#/components/schemas/FlexibleQuoteRequest" in refs and "#/components/schemas/FlexibleQuoteResult" in refs


def test_quote_command_answers_both_schemes(policies):
    import io

    import pytest
    from django.core.management import call_command

    out = io.StringIO()
    call_command("quote", text=json.dumps(FLEX), stdout=out)
    assert json.loads(out.getvalue()) == FLEX_RESULT
    out = io.StringIO()
    with pytest.raises(SystemExit) as exc:
        call_command("quote", text=json.dumps(dict(FLEX, region="630100")), stdout=out)
    assert exc.value.code == 1
    assert json.loads(out.getvalue())["error"]["code"] == "scheme_not_offered"


@pytest.mark.parametrize("scheme", [{"a": 1}, ["resident"], 7, True, "Resident"])
def test_a_scheme_that_is_not_one_of_the_names_is_422_invalid_input(policies, client, staff_token, scheme):
    """Found by the schemathesis run: an object as ``scheme`` was a 500 (unhashable dict)."""
    resp = post(client, dict(FLEX, scheme=scheme), staff_token)
    assert resp.status_code == 422
    assert resp.json()["error"]["code"] == "invalid_input"
    assert "scheme" in resp.json()["error"]["message"]
