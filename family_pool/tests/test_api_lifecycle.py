"""The family pool API beyond INTERFACES.md §5's first list (added to the contract): the
organizer dissolves the network, corrects a member's relation, and the medical settlement
system settles 共济支付 — each answer and error code, with the database read back."""

import json
from datetime import date
from decimal import Decimal

import pytest

from accounts.services import api_token_create
from family_pool.models import AccountEntry, MedicalSettlement, Network, Participation
from family_pool.networks import member_add, modes_set, network_create

from .pool_support import assert_ledger_balanced, at, employee, enrolled

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("policies")]
DEC = at(2024, 12, 10)


@pytest.fixture
def api(client, settings):
    settings.BUSINESS_DATE = date(2024, 12, 10)
    tokens = {scope: api_token_create(name=f"app-{scope}", scope=scope)[1] for scope in ("pool", "staff", "channel")}

    def call(method, path, body=None, scope="pool"):
        data = json.dumps(body) if body is not None else None
        resp = getattr(client, method)(f"/api/v1/{path}", data=data, content_type="application/json",
                                       HTTP_AUTHORIZATION=f"Bearer {tokens[scope]}")
        return resp.status_code, (resp.json() if resp.content else None)

    return call


@pytest.fixture
def family():
    org = employee("310101", "19800101", "011", name="张组建", region="310000", hist="500.00")
    n = network_create(organizer_id_number=org.id_number, actor="t", now=DEC)
    wife = employee("310101", "19820101", "022", name="李妻", region="310000", hist="30.00", cur="99.00")
    kid = enrolled("310101", "20150601", "031", name="张小", year=2025)
    member_add(network=n, id_number=wife.id_number, relation="spouse", actor="t", now=DEC)
    member_add(network=n, id_number=kid.id_number, relation="child", actor="t", now=DEC)
    return n, org, wife, kid


def code(answer):
    return answer[1]["error"]["code"]


def test_dissolve_ends_every_participation_and_keeps_the_rows(api, family):
    n, org, wife, kid = family
    assert api("delete", f"pool/networks/{n.pk}") == (204, None)
    n.refresh_from_db()
    assert n.status == Network.Status.DISSOLVED and n.dissolved_at is not None
    members = Participation.objects.filter(network=n, role="member")
    assert members.count() == 2 and not members.filter(left_at__isnull=True).exists()
    # again: 409, nothing changes
    again = api("delete", f"pool/networks/{n.pk}")
    assert again[0] == 409 and code(again) == "network_dissolved"
    # a dissolved network takes no edit and no member leaving
    assert code(api("patch", f"pool/networks/{n.pk}/members/{kid.id_number}", {"relation": "child"})) == \
        "network_dissolved"
    assert code(api("delete", f"pool/networks/{n.pk}/members/{kid.id_number}")) == "network_dissolved"
    # the organizer may start again: the people are free
    status, body = api("post", "pool/networks", {"organizer_id_number": org.id_number})
    assert status == 201 and body["network_id"] != n.pk


def test_dissolve_unknown_network_and_wrong_scope(api, family):
    n = family[0]
    assert code(api("delete", "pool/networks/999999")) == "network_not_found"
    assert api("delete", f"pool/networks/{n.pk}", scope="channel")[0] == 403
    assert Network.objects.get(pk=n.pk).status == Network.Status.ACTIVE


def test_edit_relation(api, family):
    n, org, wife, kid = family
    status, body = api("patch", f"pool/networks/{n.pk}/members/{kid.id_number}", {"relation": "grandchild"})
    assert status == 200
    assert body == {"network_id": n.pk, "id_number": kid.id_number, "name": "张小", "relation": "grandchild"}
    assert Participation.objects.get(network=n, id_number=kid.id_number).relation == "grandchild"
    bad = api("patch", f"pool/networks/{n.pk}/members/{kid.id_number}", {"relation": "cousin"})
    assert bad[0] == 422 and code(bad) == "relation_not_allowed"
    status, body = api("patch", f"pool/networks/{n.pk}/members/{kid.id_number}", {"relation": "外孙子女"})
    assert (status, body["relation"]) == (200, "maternal_grandchild")
    assert code(api("patch", f"pool/networks/{n.pk}/members/{kid.id_number}", {"relation": ""})) == "invalid_input"
    assert api("patch", f"pool/networks/{n.pk}/members/{kid.id_number}", {"relation": "grandchild"})[0] == 200
    assert code(api("patch", f"pool/networks/{n.pk}/members/{kid.id_number}", {})) == "invalid_input"
    assert code(api("patch", f"pool/networks/{n.pk}/members/{kid.id_number}",
                    {"relation": "child", "x": 1})) == "invalid_input"
    assert code(api("patch", f"pool/networks/{n.pk}/members/{org.id_number}", {"relation": "child"})) == \
        "not_a_member"
    assert code(api("patch", f"pool/networks/{n.pk}/members/123", {"relation": "child"})) == "invalid_input"
    assert Participation.objects.get(network=n, id_number=kid.id_number).relation == "grandchild"


def test_settlement_own_then_pool_and_idempotent(api, family):
    n, org, wife, kid = family
    modes_set(network=n, medical=True, premium=False, actor="t", now=DEC)
    body = {"id_number": wife.id_number, "request_id": "HIS-20241210-1", "cost": "100.00"}
    status, s = api("post", f"pool/networks/{n.pk}/settlements", body, scope="staff")
    assert status == 201
    assert {k: v for k, v in s.items() if k != "settlement_id"} == {
        "request_id": "HIS-20241210-1", "network_id": n.pk, "id_number": wife.id_number, "purpose": "medical",
        "cost": "100.00", "from_own": "30.00", "from_pool": "70.00", "unpaid": "0.00",
        "excluded_from_other_schemes": True}
    # the same request again: the first answer, 200, nothing more spent
    assert api("post", f"pool/networks/{n.pk}/settlements", body, scope="staff") == (200, s)
    conflict = api("post", f"pool/networks/{n.pk}/settlements", {**body, "cost": "90.00"}, scope="staff")
    assert conflict[0] == 409 and code(conflict) == "idempotency_conflict"
    assert MedicalSettlement.objects.count() == 1
    org.refresh_from_db()
    wife.refresh_from_db()
    assert (org.historical_balance, wife.historical_balance) == (Decimal("430.00"), Decimal("0.00"))
    assert AccountEntry.objects.filter(kind__in=("own_medical", "pool_medical")).count() == 2
    assert_ledger_balanced()


@pytest.mark.parametrize("body,expected", [
    ({"id_number": "KID", "request_id": "r", "cost": "10.00"}, (422, "mode_not_chosen")),
    ({"id_number": "KID", "request_id": "r", "cost": 10}, (422, "invalid_input")),
    ({"id_number": "KID", "request_id": "r", "cost": "-1.00"}, (422, "invalid_input")),
    ({"id_number": "KID", "request_id": "r", "cost": "1.001"}, (422, "invalid_input")),
    ({"id_number": "KID", "request_id": "r", "cost": "NaN"}, (422, "invalid_input")),
    ({"id_number": "KID", "request_id": "r", "cost": "10.00", "purpose": "holiday"}, (422, "invalid_input")),
    ({"id_number": "KID", "request_id": "", "cost": "10.00"}, (422, "invalid_input")),
    ({"id_number": "KID", "cost": "10.00"}, (422, "invalid_input")),
    ({"id_number": "KID", "request_id": "r", "cost": "10.00", "purpose": "commercial"}, (422, "mode_not_chosen")),
])
def test_settlement_errors_write_nothing(api, family, body, expected):
    n, org, wife, kid = family
    body = {k: ({"KID": kid.id_number, "ORG": org.id_number}.get(v, v)) for k, v in body.items()}
    status, answer = api("post", f"pool/networks/{n.pk}/settlements", body, scope="staff")
    assert (status, answer["error"]["code"]) == expected
    assert MedicalSettlement.objects.count() == 0
    assert not AccountEntry.objects.filter(kind__in=("own_medical", "pool_medical")).exists()


def test_settlement_not_a_member_and_scope(api, family):
    n, org, wife, kid = family
    modes_set(network=n, medical=True, premium=False, actor="t", now=DEC)
    body = {"id_number": org.id_number, "request_id": "r9", "cost": "10.00"}
    assert code(api("post", f"pool/networks/{n.pk}/settlements", body, scope="staff")) == "not_a_member"
    # the citizen app's token cannot spend the pool
    kid_body = {"id_number": kid.id_number, "request_id": "r9", "cost": "10.00"}
    assert api("post", f"pool/networks/{n.pk}/settlements", kid_body, scope="pool")[0] == 403
    assert MedicalSettlement.objects.count() == 0


@pytest.mark.parametrize("cost", ["1e30", "1e400", "1000000000000000000000000000.00", "1E2", "100000000.00",
                                  "0.00", " ", "１００.００"])
def test_a_cost_out_of_form_or_range_is_invalid_input_not_a_500(api, family, cost):
    n, org, wife, kid = family
    modes_set(network=n, medical=True, premium=False, actor="t", now=DEC)
    body = {"id_number": wife.id_number, "request_id": "HIS-BIG", "cost": cost}
    status, answer = api("post", f"pool/networks/{n.pk}/settlements", body, scope="staff")
    assert (status, answer["error"]["code"]) == (422, "invalid_input")
    assert MedicalSettlement.objects.count() == 0
    assert not AccountEntry.objects.filter(kind__in=("own_medical", "pool_medical")).exists()
