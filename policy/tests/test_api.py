"""POST /api/v1/quote and GET /api/v1/openapi.json (INTERFACES.md §2 and §5)."""

import json
import re

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from accounts.models import ApiToken
from accounts.services import api_token_create, api_token_revoke
from policy.rules.io import PERSON_FIELDS, REQUEST_FIELDS

URL = "/api/v1/quote"
MONEY = re.compile(r"^\d+\.\d{2}$")

DIBAO = {"region": "141100", "year": 2026, "paid_on": "2026-01-10",
         "person": {"birth_date": "1980-05-01"},
         "identities": [{"code": "dibao", "certified_on": "2025-06-01"}],
         "history": {"2025": "resident"}}
DIBAO_RESULT = {
    "region": "141100", "year": 2026, "category": "resident", "personal_standard": "400.00",
    "fiscal_subsidy": None, "assistance": {"identity": "dibao", "amount": "320.00"},
    "amount_due": "80.00", "timing": "window", "benefit_start": "2026-01-10",
    "benefit_end": "2026-12-31", "waiting_months": 0, "waiting_days": 0, "cap_adjustment": None}


def post(client, payload, token=None, raw=None, **extra):
    if token:
        extra["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    body = raw if raw is not None else json.dumps(payload)
    return client.post(URL, data=body, content_type="application/json", **extra)


def assert_error(resp, status, code):
    assert resp.status_code == status, resp.content
    assert resp["Content-Type"] == "application/json"
    body = resp.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return body["error"]["message"]


@pytest.fixture
def pool_token(db):
    _, raw = api_token_create(name="test-pool", scope="pool")
    return raw


# --- authentication --------------------------------------------------------------------------


@pytest.mark.parametrize("token_fixture", ["staff_token", "channel_token", "pool_token"])
def test_every_scope_may_quote(policies, client, request, token_fixture):
    token = request.getfixturevalue(token_fixture)
    resp = post(client, DIBAO, token)
    assert resp.status_code == 200
    assert resp.json() == DIBAO_RESULT


def test_without_token_is_401(policies, client):
    message = assert_error(post(client, DIBAO), 401, "unauthorized")
    assert message == "需要接口令牌（Authorization: Bearer …）或经办人员登录"


@pytest.mark.parametrize("header", ["Bearer not-a-real-token", "Bearer ", "Basic dXNlcjpwYXNz", "token"])
def test_bad_authorization_header_is_401(policies, client, staff_token, header):
    assert_error(post(client, DIBAO, HTTP_AUTHORIZATION=header), 401, "unauthorized")


def test_revoked_token_is_401(policies, client, staff_token):
    assert post(client, DIBAO, staff_token).status_code == 200
    api_token_revoke(token=ApiToken.objects.get(name="test-staff"))
    message = assert_error(post(client, DIBAO, staff_token), 401, "unauthorized")
    assert message == "令牌无效或已吊销"


def test_bad_token_wins_over_a_staff_session(policies, staff_user):
    """A request that sends a token is judged by the token, even from a logged-in browser."""
    client = Client()
    client.force_login(staff_user)
    assert_error(post(client, DIBAO, "wrong"), 401, "unauthorized")


@pytest.fixture
def staff_user(db):
    from django.contrib.auth.models import Group

    from accounts.roles import CASEWORKER

    user = get_user_model().objects.create_user(username="caseworker", password="x-Unused-123",
                                                is_staff=True)
    user.groups.add(Group.objects.get(name=CASEWORKER))
    return user


def _csrf_token(client) -> str:
    client.get("/admin/")  # any admin page sets the CSRF cookie for a logged-in user
    return client.cookies["csrftoken"].value


def test_staff_session_with_csrf_token(policies, staff_user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff_user)
    resp = post(client, DIBAO, HTTP_X_CSRFTOKEN=_csrf_token(client))
    assert resp.status_code == 200
    assert resp.json() == DIBAO_RESULT


def test_staff_session_without_csrf_is_403(policies, staff_user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff_user)
    _csrf_token(client)  # cookie present, header missing
    message = assert_error(post(client, DIBAO), 403, "forbidden")
    assert message == "CSRF 校验失败"
    assert_error(post(client, DIBAO, HTTP_X_CSRFTOKEN="x" * 32), 403, "forbidden")


def test_staff_session_without_policy_permission_is_403(policies, db):
    user = get_user_model().objects.create_user(username="clerk", password="x-Unused-123", is_staff=True)
    client = Client()
    client.force_login(user)
    message = assert_error(post(client, DIBAO), 403, "forbidden")
    assert message == "没有查看政策年度的权限，不能测算"


def test_session_of_a_non_staff_user_is_401(policies, db):
    user = get_user_model().objects.create_user(username="resident", password="x-Unused-123")
    client = Client()
    client.force_login(user)
    assert_error(post(client, DIBAO), 401, "unauthorized")


# --- answers and errors ----------------------------------------------------------------------


def test_money_is_a_string_with_two_decimals(policies, client, staff_token):
    resp = post(client, {"region": "330200", "year": 2025, "paid_on": "2024-11-01",
                         "person": {"birth_date": "1980-05-01"}}, staff_token)
    assert resp.status_code == 200
    body = resp.json()
    for field in ("personal_standard", "fiscal_subsidy", "amount_due"):
        assert isinstance(body[field], str) and MONEY.match(body[field]), (field, body[field])
    assert (body["personal_standard"], body["fiscal_subsidy"], body["amount_due"]) == (
        "780.00", "2090.00", "780.00")
    text = resp.content.decode()
    assert '"amount_due": "780.00"' in text
    assert "780.0," not in text and "780," not in text


def test_explain_query_adds_steps(policies, client, staff_token):
    resp = client.post(URL + "?explain=1", data=json.dumps(DIBAO), content_type="application/json",
                       HTTP_AUTHORIZATION=f"Bearer {staff_token}")
    assert resp.status_code == 200
    steps = resp.json()["explanation"]
    assert "应缴金额 = 400.00 − 320.00 = 80.00 元" in steps
    # answered in readable UTF-8, not \u escapes
    assert "应缴金额" in resp.content.decode("utf-8")


@pytest.mark.parametrize("body", ["{", "not json", b"\xff\xfe{}", '{"region": "141100",}'])
def test_malformed_json_is_422_invalid_input(policies, client, staff_token, body):
    resp = client.post(URL, data=body, content_type="application/json",
                       HTTP_AUTHORIZATION=f"Bearer {staff_token}")
    message = assert_error(resp, 422, "invalid_input")
    assert message.startswith("无法解析的 JSON (malformed JSON)")


def test_empty_body_is_422_invalid_input(policies, client, staff_token):
    resp = client.post(URL, data="", content_type="application/json",
                       HTTP_AUTHORIZATION=f"Bearer {staff_token}")
    assert assert_error(resp, 422, "invalid_input") == "请求应为 JSON 对象 (expected a JSON object)"


def test_policy_missing_is_404(policies, client, staff_token):
    message = assert_error(post(client, {**DIBAO, "year": 2031}, staff_token), 404, "policy_missing")
    assert message == "吕梁市 2031 年度没有已发布的政策"
    assert_error(post(client, {**DIBAO, "region": "999999"}, staff_token), 404, "policy_missing")


@pytest.mark.parametrize("payload, code, message", [
    ({**DIBAO, "paid_on": "2026-13-01"}, "invalid_input", None),
    ({**DIBAO, "person": {"birth_date": "1980-05-01", "employee_insured": True}}, "not_eligible", None),
    ({**DIBAO, "paid_on": "2026-01-26"}, "payment_day_not_allowed",
     "吕梁市仅在每月 1 日至 25 日办理缴费，2026-01-26 不可缴费"),
    ({**DIBAO, "paid_on": "2025-09-01"}, "window_not_open",
     "2025-09-01 早于 吕梁市 2026 年度缴费期开始日 2025-10-21"),
    ({"region": "610400", "year": 2025, "paid_on": "2025-05-10", "person": {"birth_date": "1980-05-01"}},
     "window_closed", None),
    ({**DIBAO, "identities": [{"code": "entitled"}]}, "value_not_in_source",
     "吕梁市 2026 年度“优抚对象”资助标准，来源文件未给出"),
])
def test_other_errors_are_422(policies, client, staff_token, payload, code, message):
    got = assert_error(post(client, payload, staff_token), 422, code)
    if message:
        assert got == message


@pytest.mark.parametrize("payload, field", [
    ({**DIBAO, "left_other_scheme_on": "9999-12-31"}, "left_other_scheme_on"),
    ({**DIBAO, "paid_on": "9999-12-31"}, "paid_on"),
    ({**DIBAO, "person": {"birth_date": "0001-01-01"}}, "person.birth_date"),
    ({**DIBAO, "identities": [{"code": "dibao", "certified_on": "9999-12-31"}]}, "identities[0].certified_on"),
])
def test_dates_out_of_range_are_422_not_a_crash(policies, client, staff_token, payload, field):
    """Found by fuzzing: 9999-12-31 as left_other_scheme_on overflowed the date arithmetic (500)."""
    message = assert_error(post(client, payload, staff_token), 422, "invalid_input")
    assert message.startswith(f"{field}: 日期应在 1900-01-01 至 2200-12-31 之间 (date out of range)")


def test_array_is_200_with_errors_in_their_places(policies, client, staff_token):
    payload = [{**DIBAO, "year": 2031}, DIBAO, {**DIBAO, "paid_on": "2026-01-26"}, "nonsense"]
    resp = post(client, payload, staff_token)
    assert resp.status_code == 200
    body = resp.json()
    assert [a["error"]["code"] if "error" in a else "ok" for a in body] == [
        "policy_missing", "ok", "payment_day_not_allowed", "invalid_input"]
    assert body[1] == DIBAO_RESULT


def test_get_is_405(policies, client, staff_token):
    resp = client.get(URL, HTTP_AUTHORIZATION=f"Bearer {staff_token}")
    assert_error(resp, 405, "method_not_allowed")
    assert resp["Allow"] == "POST"


def test_quote_writes_nothing(policies, client, staff_token):
    from django.apps import apps

    from policy.models import PolicyYear

    models = [m for m in apps.get_models() if m._meta.app_label in ("policy", "enrollment", "payments")]
    before = {m.__name__: m.objects.count() for m in models}
    revisions = list(PolicyYear.objects.order_by("pk").values_list("revision", "updated_at"))
    post(client, [DIBAO, {**DIBAO, "paid_on": "2026-01-26"}], staff_token)
    assert {m.__name__: m.objects.count() for m in models} == before
    assert list(PolicyYear.objects.order_by("pk").values_list("revision", "updated_at")) == revisions


# --- OpenAPI ---------------------------------------------------------------------------------


def test_openapi_document(db, client):
    resp = client.get("/api/v1/openapi.json")
    assert resp.status_code == 200
    assert client.head("/api/v1/openapi.json").status_code == 200
    for method in ("post", "put", "delete", "patch"):  # 405 in the error object, as every endpoint
        other = getattr(client, method)("/api/v1/openapi.json")
        assert (other.status_code, other.json()["error"]["code"], other["Allow"]) == (
            405, "method_not_allowed", "GET, HEAD"), method
    assert resp["Content-Type"] == "application/json"
    doc = json.loads(resp.content)
    assert doc["openapi"].startswith("3.")
    assert "/quote" in doc["paths"]
    op = doc["paths"]["/quote"]["post"]
    assert set(op["responses"]) >= {"200", "401", "404", "422"}
    refs = json.dumps(op)
    assert "#/components/schemas/QuoteRequest" in refs and "#/components/schemas/QuoteResult" in refs

    schemas = doc["components"]["schemas"]
    request_schema = schemas["QuoteRequest"]
    assert request_schema["required"] == ["region", "year", "paid_on", "person"]
    # the schema describes exactly the fields the parser accepts
    assert set(request_schema["properties"]) == REQUEST_FIELDS
    assert set(request_schema["properties"]["person"]["properties"]) == PERSON_FIELDS
    assert request_schema["properties"]["person"]["required"] == ["birth_date"]
    result_schema = schemas["QuoteResult"]
    assert set(result_schema["required"]) == set(DIBAO_RESULT)
    assert result_schema["properties"]["amount_due"]["type"] == "string"
    assert set(schemas["Error"]["properties"]["error"]["required"]) == {"code", "message"}


def test_every_local_ref_in_openapi_resolves(db, client):
    doc = client.get("/api/v1/openapi.json").json()
    refs = re.findall(r'"\$ref": "#/([^"]+)"', json.dumps(doc))
    assert refs
    for ref in refs:
        node = doc
        for part in ref.split("/"):
            node = node[part]


# --- limits on what one request may carry (issue 8, items 5 and 6) ---------------------------


def test_a_body_over_the_cap_is_413_in_the_contracts_shape(policies, client, staff_token, settings):
    """10 MB of JSON answered 400 text/html (Django's DATA_UPLOAD_MAX_MEMORY_SIZE page)."""
    settings.DEBUG = False
    big = json.dumps([DIBAO] * 60_000)
    assert len(big) > 10_000_000
    message = assert_error(post(client, None, staff_token, raw=big), 413, "payload_too_large")
    assert "1 MB" in message or "1048576" in message


def test_a_body_over_the_cap_is_413_before_the_token_is_checked(policies, client):
    resp = client.post(URL, data="x" * 1_100_000, content_type="application/json")
    assert_error(resp, 413, "payload_too_large")


def test_a_body_just_under_the_cap_is_read(policies, client, staff_token, settings):
    settings.API_MAX_BODY_BYTES = 2_000
    assert_error(post(client, None, staff_token, raw=" " * 1_900 + "{"), 422, "invalid_input")
    assert_error(post(client, None, staff_token, raw=" " * 2_001 + "{"), 413, "payload_too_large")


def test_a_quote_array_over_the_cap_is_422_and_says_the_limit(policies, client, staff_token, settings):
    """A 20,000-element array took 59 s from any token."""
    settings.API_QUOTE_MAX_ITEMS = 5
    assert post(client, [DIBAO] * 5, staff_token).status_code == 200
    message = assert_error(post(client, [DIBAO] * 6, staff_token), 422, "invalid_input")
    assert "5" in message


def test_the_default_array_cap_is_1000(policies, client, staff_token):
    message = assert_error(post(client, [{}] * 1_001, staff_token), 422, "invalid_input")
    assert "1000" in message


@pytest.mark.parametrize("body", ["[" * 1_000, "[" * 1_000 + "]" * 1_000, '{"a":' * 5_000 + "1" + "}" * 5_000,
                                  "[" * 200_000])
def test_deeply_nested_json_is_422_not_a_recursion_error(policies, client, staff_token, body):
    assert_error(post(client, None, staff_token, raw=body), 422, "invalid_input")


def test_head_is_not_allowed_on_a_post_only_endpoint(policies, client, staff_token):
    resp = client.head(URL, HTTP_AUTHORIZATION=f"Bearer {staff_token}")
    assert resp.status_code == 405
    assert resp["Allow"] == "POST"
