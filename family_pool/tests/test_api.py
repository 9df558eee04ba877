"""The family pool API (INTERFACES.md §5, scope pool): every answer and error code, with the
database read back."""

import json
import sys
from datetime import date

import pytest

from accounts.services import api_token_create
from enrollment.tests.support import number
from family_pool.models import ModeChange, Network, Participation

from .pool_support import at, employee, enrolled

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("policies")]


@pytest.fixture
def api(client, settings):
    settings.BUSINESS_DATE = date(2024, 12, 10)
    _, raw = api_token_create(name="citizen-app", scope="pool")

    def call(method, path, body=None, token=raw):
        kw = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
        data = json.dumps(body) if body is not None else None
        resp = getattr(client, method)(f"/api/v1/{path}", data=data, content_type="application/json", **kw)
        return resp.status_code, (resp.json() if resp.content else None)

    return call


@pytest.fixture
def org():
    return employee("310101", "19800101", "011", name="张组建", region="310000", hist="2000.00")


def code(answer):
    return answer[1]["error"]["code"]


def test_create_and_organizer_view(api, org):
    status, body = api("post", "pool/networks", {"organizer_id_number": org.id_number})
    assert status == 201
    n = Network.objects.get()
    assert body == {"network_id": n.pk, "region": "310000"}
    assert (n.organizer_id_number, n.status) == (org.id_number, "active")
    kid = enrolled("310101", "20150601", "031", name="张小", year=2025, via="school", registered_at=at(2024, 11, 5))
    assert api("post", f"pool/networks/{n.pk}/members", {"id_number": kid.id_number, "relation": "child"})[0] == 201
    status, view = api("get", f"pool/networks/{n.pk}")
    assert status == 200
    assert view["pool_balance"] == "2000.00" and view["modes"] == {"medical": False, "premium": False}
    assert [(m["id_number"], m["name"], m["relation"], m["registered_via"], m["registered_on"])
            for m in view["members"]] == [(kid.id_number, "张小", "child", "school", "2024-11-05")]
    assert view["organizer"] == {"id_number": org.id_number, "name": "张组建"}


def test_create_errors(api, org):
    frozen = employee("310101", "19810101", "021", region="310000", hist="5.00", status="冻结")
    status, body = api("post", "pool/networks", {"organizer_id_number": frozen.id_number})
    assert (status, body["error"]["code"]) == (422, "organizer_not_eligible")
    assert "冻结" in body["error"]["message"]
    empty = employee("310101", "19820101", "031", region="310000", hist="0.00", cur="100.00")
    assert code(api("post", "pool/networks", {"organizer_id_number": empty.id_number})) == "organizer_not_eligible"
    assert api("post", "pool/networks", {"organizer_id_number": org.id_number})[0] == 201
    status, body = api("post", "pool/networks", {"organizer_id_number": org.id_number})
    assert (status, body["error"]["code"]) == (409, "already_organizer")
    assert api("post", "pool/networks", {"organizer_id_number": "123"})[0] == 422
    assert code(api("post", "pool/networks", {})) == "invalid_input"
    assert Network.objects.count() == 1


def test_member_errors(api, org):
    n = api("post", "pool/networks", {"organizer_id_number": org.id_number})[1]["network_id"]
    kid = enrolled("310101", "20150601", "031", year=2025)
    path = f"pool/networks/{n}/members"
    status, body = api("post", path, {"id_number": org.id_number, "relation": "spouse"})
    assert (status, body["error"]["code"]) == (422, "organizer_cannot_be_member")
    elsewhere = enrolled("330203", "20150101", "041", year=2025)
    status, body = api("post", path, {"id_number": elsewhere.id_number, "relation": "child"})
    assert (status, body["error"]["code"]) == (422, "not_insured_in_region")
    assert api("post", path, {"id_number": kid.id_number, "relation": "child"})[0] == 201
    status, body = api("post", path, {"id_number": kid.id_number, "relation": "child"})
    assert (status, body["error"]["code"]) == (409, "already_in_network")
    assert code(api("post", path, {"id_number": kid.id_number, "relation": "cousin"})) == "relation_not_allowed"
    for empty in ("", "  ", None, 3):
        assert code(api("post", path, {"id_number": kid.id_number, "relation": empty})) == "invalid_input"
    assert api("post", "pool/networks/999999/members", {"id_number": kid.id_number, "relation": "child"})[0] == 404
    assert list(Participation.objects.filter(role="member").values_list("id_number", flat=True)) == [kid.id_number]


def test_relation_not_allowed_in_xining(api, settings):
    settings.BUSINESS_DATE = date(2025, 11, 1)
    org = employee("630102", "19800101", "011", region="630100", hist="900.00")
    n = api("post", "pool/networks", {"organizer_id_number": org.id_number})[1]["network_id"]
    sister = enrolled("630102", "19850101", "022", year=2025)
    status, body = api("post", f"pool/networks/{n}/members", {"id_number": sister.id_number, "relation": "sibling"})
    assert (status, body["error"]["code"]) == (422, "relation_not_allowed")
    assert body["error"]["message"] == "西宁市家庭共济成员限于组建人的配偶、父母、子女，不含“兄弟姐妹”"
    # the relation by its Chinese name, as a citizen app shows it: the same rules
    assert code(api("post", f"pool/networks/{n}/members", {"id_number": sister.id_number, "relation": "兄弟姐妹"})) == \
        "relation_not_allowed"
    assert Participation.objects.filter(role="member").count() == 0
    status, body = api("post", f"pool/networks/{n}/members", {"id_number": sister.id_number, "relation": " 配偶 "})
    assert (status, body["relation"]) == (201, "spouse")
    assert Participation.objects.get(role="member").relation == "spouse"


def test_leave_is_204(api, org):
    n = api("post", "pool/networks", {"organizer_id_number": org.id_number})[1]["network_id"]
    kid = enrolled("310101", "20150601", "031", year=2025)
    api("post", f"pool/networks/{n}/members", {"id_number": kid.id_number, "relation": "child"})
    assert api("delete", f"pool/networks/{n}/members/{kid.id_number}") == (204, None)
    assert Participation.objects.get(id_number=kid.id_number).left_at is not None
    assert code(api("delete", f"pool/networks/{n}/members/{kid.id_number}")) == "not_a_member"


@pytest.mark.parametrize("today,expected", [(date(2024, 12, 15), 200), (date(2024, 12, 22), 422)])
def test_modes_and_cutoff_passed(api, org, settings, today, expected):
    n = api("post", "pool/networks", {"organizer_id_number": org.id_number})[1]["network_id"]
    kid = enrolled("310101", "20150601", "031", year=2025, via="school", registered_at=at(2024, 11, 5))
    api("post", f"pool/networks/{n}/members", {"id_number": kid.id_number, "relation": "child"})
    status, body = api("put", f"pool/networks/{n}/modes", {"medical": True, "premium": True})
    assert (status, body) == (200, {"network_id": n, "modes": {"medical": True, "premium": True}})
    settings.BUSINESS_DATE = today
    status, body = api("put", f"pool/networks/{n}/modes", {"medical": True, "premium": False})
    assert status == expected
    if expected == 422:
        assert body["error"]["code"] == "cutoff_passed"
    network = Network.objects.get(pk=n)
    assert network.premium_mode is (expected == 422)
    assert ModeChange.objects.filter(network=network).count() == (2 if expected == 200 else 1)
    assert code(api("put", f"pool/networks/{n}/modes", {"medical": "yes", "premium": True})) == "invalid_input"


def test_member_view_organizer_and_self_only(api, org):
    n = api("post", "pool/networks", {"organizer_id_number": org.id_number})[1]["network_id"]
    kid = enrolled("310101", "20150601", "031", name="张小", year=2025)
    wife = enrolled("310101", "19820101", "042", name="李妻", year=2025)
    for p, rel in ((kid, "child"), (wife, "spouse")):
        api("post", f"pool/networks/{n}/members", {"id_number": p.id_number, "relation": rel})
    status, body = api("get", f"pool/memberships/{kid.id_number}")
    assert status == 200
    assert body["organizer"] == {"name": "张组建", "id_number": org.id_number[:6] + "********" + org.id_number[-4:]}
    assert body["self"]["id_number"] == kid.id_number
    assert body["deduction"] is None
    text = json.dumps(body, ensure_ascii=False)
    assert wife.id_number not in text and "李妻" not in text and org.id_number not in text
    assert code(api("get", f"pool/memberships/{org.id_number}")) == "not_a_member"
    assert api("get", f"pool/memberships/{number('310101', '19990101', '091')}")[0] == 404


def test_member_view_without_the_deductions_module(api, org, monkeypatch):
    n = api("post", "pool/networks", {"organizer_id_number": org.id_number})[1]["network_id"]
    kid = enrolled("310101", "20150601", "031", year=2025)
    api("post", f"pool/networks/{n}/members", {"id_number": kid.id_number, "relation": "child"})
    monkeypatch.setitem(sys.modules, "family_pool.deductions", None)  # import raises ImportError
    status, body = api("get", f"pool/memberships/{kid.id_number}")
    assert (status, body["deduction"]) == (200, None)


def test_tokens(api, org):
    assert api("post", "pool/networks", {"organizer_id_number": org.id_number}, token=None)[0] == 401
    _, channel = api_token_create(name="bank", scope="channel")
    assert api("post", "pool/networks", {"organizer_id_number": org.id_number}, token=channel)[0] == 403
    assert Network.objects.count() == 0


def test_openapi_documents_the_pool_paths(api):
    status, doc = api("get", "openapi.json")
    assert status == 200
    for path in ("/pool/networks", "/pool/networks/{network_id}", "/pool/networks/{network_id}/members",
                 "/pool/networks/{network_id}/members/{id_number}", "/pool/networks/{network_id}/modes",
                 "/pool/memberships/{id_number}"):
        assert path in doc["paths"]
    assert "cutoff_passed" in doc["paths"]["/pool/networks/{network_id}/modes"]["put"]["responses"]["422"]["description"]
