"""Region isolation: a caseworker of 330200 never reaches a 630100 resident; the auditor reads all, changes nothing."""

import json
from datetime import date

import pytest

from enrollment.idnumbers import mask
from core.models import BatchRun
from enrollment.models import EmployeeCoverage, Enrollment, ReregistrationNotice, Resident

from .support import auditor, caseworker, person, register, today_is

pytestmark = pytest.mark.usefixtures("policies")

RESIDENTS = "/admin/enrollment/resident/"
ENROLLMENTS = "/admin/enrollment/enrollment/"
DAY = date(2024, 11, 1)


@pytest.fixture
def world():
    xining = person("630102", "19800101", "051", name="张西宁", today=DAY)
    ningbo = person("330203", "19800101", "017", name="张宁波", today=DAY)
    w = {
        "x": xining, "y": ningbo,
        "ex": register(xining, 2025, DAY), "ey": register(ningbo, 2025, DAY),
        "cx": EmployeeCoverage.objects.create(id_number=xining.id_number, name=xining.name,
                                              region_code="630100", year=2024),
        "cy": EmployeeCoverage.objects.create(id_number=ningbo.id_number, name=ningbo.name,
                                              region_code="330200", year=2024),
        "nx": ReregistrationNotice.objects.create(resident=xining, region_id="630100", year=2026,
                                                  reason="permit_expired"),
        "ny": ReregistrationNotice.objects.create(resident=ningbo, region_id="330200", year=2026,
                                                  reason="graduated"),
        "bx": BatchRun.objects.create(kind="renew_enrollments", params={"region": "630100", "to_year": 2026}),
        "by": BatchRun.objects.create(kind="renew_enrollments", params={"region": "330200", "to_year": 2026}),
    }
    return w


def listed(client, url, **params):
    resp = client.get(url, params)
    assert resp.status_code == 200
    return sorted(o.pk for o in resp.context["cl"].result_list)


# --- the caseworker of 330200 ----------------------------------------------------------------------


def test_lists_show_only_own_region(client, cw, world):
    w = world
    assert listed(client, RESIDENTS) == [w["y"].pk]
    assert listed(client, ENROLLMENTS) == [w["ey"].pk]
    assert listed(client, "/admin/enrollment/employeecoverage/") == [w["cy"].pk]
    assert listed(client, "/admin/enrollment/reregistrationnotice/") == [w["ny"].pk]
    assert listed(client, "/admin/core/batchrun/") == [w["by"].pk]
    # asking for the other region through the filter parameter gives nothing
    assert listed(client, RESIDENTS, region="630100") == []
    assert listed(client, ENROLLMENTS, region="630100") == []
    html = client.get(RESIDENTS).content.decode()
    assert "张西宁" not in html and "西宁市（630100）" not in html  # not even in the region filter


def test_search_by_exact_id_or_name_finds_nothing(client, cw, world):
    x = world["x"]
    for url in (RESIDENTS, ENROLLMENTS, "/admin/enrollment/employeecoverage/",
                "/admin/enrollment/reregistrationnotice/"):
        assert listed(client, url, q=x.id_number) == []
    assert listed(client, RESIDENTS, q="张西宁") == []
    assert listed(client, RESIDENTS, q="张") == [world["y"].pk]
    assert listed(client, RESIDENTS, q=world["y"].id_number) == [world["y"].pk]


def test_pages_reached_by_guessing_ids_are_404(client, cw, world):
    w = world
    for url in (f"{RESIDENTS}{w['x'].pk}/change/", f"{RESIDENTS}{w['x'].pk}/history/",
                f"{RESIDENTS}{w['x'].pk}/delete/", f"{ENROLLMENTS}{w['ex'].pk}/change/",
                f"{ENROLLMENTS}{w['ex'].pk}/history/",
                f"/admin/enrollment/employeecoverage/{w['cx'].pk}/change/",
                f"/admin/enrollment/reregistrationnotice/{w['nx'].pk}/change/",
                f"/admin/core/batchrun/{w['bx'].pk}/change/"):
        assert client.get(url).status_code == 404, url
    # writing by guessed id is refused the same way and changes nothing
    assert client.post(f"{RESIDENTS}{w['x'].pk}/change/", {"name": "改名", "region": "330200",
                                                           "hukou": "local"}).status_code == 404
    assert client.post(f"{RESIDENTS}{w['x'].pk}/delete/", {"post": "yes"}).status_code == 404
    x = Resident.objects.get(pk=w["x"].pk)
    assert (x.name, x.region_id) == ("张西宁", "630100")
    # the own region's pages open (the 404s above are not a broken page)
    assert client.get(f"{RESIDENTS}{w['y'].pk}/change/").status_code == 200
    assert client.get(f"{RESIDENTS}{w['y'].pk}/history/").status_code == 200
    assert client.get(f"{ENROLLMENTS}{w['ey'].pk}/change/").status_code == 200


def test_actions_on_guessed_ids_touch_nothing(client, cw, world):
    w = world
    Enrollment.objects.filter(pk=w["ex"].pk).delete()
    with today_is(DAY):
        client.post(RESIDENTS, {"action": "register_for_year", "_selected_action": [w["x"].pk], "apply": "1",
                                "year": "2025", "registered_via": "community"})
    assert not Enrollment.objects.filter(resident=w["x"]).exists()
    ex = register(w["x"], 2025, DAY)
    client.post(ENROLLMENTS, {"action": "cancel_with_reason", "_selected_action": [ex.pk], "apply": "1",
                              "reason": "越权注销"})
    assert Enrollment.objects.get(pk=ex.pk).status == "registered"


@pytest.mark.filterwarnings("ignore:The 'get_valid_export_item_pks:DeprecationWarning")
def test_export_contains_only_own_region(client, cw, world):
    url = f"{RESIDENTS}export/"
    form = client.get(url).context["form"]
    data = {"format": "1", "resource": "0"}
    data.update({n: "on" for n in form.fields if n.startswith("residentexportresource_")})
    text = client.post(url, data).content.decode("utf-8-sig")
    assert "张宁波" in text and mask(world["y"].id_number) in text
    x = world["x"]
    assert "张西宁" not in text and x.id_number not in text and mask(x.id_number) not in text
    # asking for its pk explicitly (the export action's hidden items) does not bring it in
    data["export_items"] = [str(x.pk), str(world["y"].pk)]
    text = client.post(url, data).content.decode("utf-8-sig")
    assert "张西宁" not in text and "张宁波" in text


def test_autocomplete_returns_only_own_region(client, cw, world):
    def results(term, model="enrollment", app="enrollment"):
        resp = client.get("/admin/autocomplete/", {"app_label": app, "model_name": model,
                                                   "field_name": "resident", "term": term})
        assert resp.status_code == 200
        return [r["id"] for r in resp.json()["results"]]

    x, y = world["x"], world["y"]
    assert results(x.id_number) == []
    assert results("张西宁") == []
    assert results("张") == [str(y.pk)]
    assert results(y.id_number) == [str(y.pk)]
    assert results(x.id_number, model="reregistrationnotice") == []
    # Identities are kept by ID number (no resident field to complete): the autocomplete refuses.
    assert client.get("/admin/autocomplete/", {"app_label": "subsidies", "model_name": "assistanceidentity",
                                               "field_name": "resident", "term": x.id_number}).status_code == 403


def test_api_with_the_caseworkers_session(client, cw, world):
    x, y = world["x"], world["y"]
    Enrollment.objects.all().delete()

    def post(r):
        return client.post("/api/v1/enrollments", json.dumps(
            {"id_number": r.id_number, "name": r.name, "region": r.region_id, "year": 2025,
             "registered_via": "community"}), content_type="application/json")

    with today_is(DAY):
        resp = post(x)
        assert (resp.status_code, resp.json()["error"]["code"]) == (404, "resident_not_found")
        assert not Enrollment.objects.filter(resident=x).exists()
        assert post(y).status_code == 201
    register(x, 2025, DAY)
    resp = client.get(f"/api/v1/enrollments/{x.id_number}/2025")
    assert (resp.status_code, resp.json()["error"]["code"]) == (404, "not_registered")
    assert client.get(f"/api/v1/enrollments/{y.id_number}/2025").json()["status"] == "registered"
    assert Enrollment.objects.get(resident=y).registered_by == cw


def test_cannot_move_a_resident_or_add_one_into_another_region(client, cw, world):
    y = world["y"]
    resp = client.post(f"{RESIDENTS}{y.pk}/change/", {
        "name": y.name, "region": "630100", "hukou": "local",
        "enrollments-TOTAL_FORMS": "1", "enrollments-INITIAL_FORMS": "1",
        "enrollments-0-id": str(world["ey"].pk), "enrollments-0-resident": str(y.pk)})
    assert resp.status_code == 200 and "region" in resp.context["adminform"].form.errors
    assert Resident.objects.get(pk=y.pk).region_id == "330200"
    from .support import number

    resp = client.post(f"{RESIDENTS}add/", {"id_number": number("630102", "19900101", "013"), "name": "外区",
                                            "region": "630100", "hukou": "local",
                                            "enrollments-TOTAL_FORMS": "0", "enrollments-INITIAL_FORMS": "0"})
    assert resp.status_code == 200 and "region" in resp.context["adminform"].form.errors
    assert not Resident.objects.filter(name="外区").exists()


def test_the_audit_trail_admin_is_not_for_caseworkers(client, cw, world):
    assert client.get("/admin/pghistory/events/").status_code == 403


def test_a_caseworker_of_two_regions_sees_both(client, world):
    client.force_login(caseworker("cw2", "330200", "630100"))
    assert listed(client, RESIDENTS) == sorted([world["x"].pk, world["y"].pk])
    assert client.get(f"{RESIDENTS}{world['x'].pk}/change/").status_code == 200


# --- the auditor --------------------------------------------------------------------------------------


@pytest.fixture
def aud(client):
    user = auditor()
    client.force_login(user)
    return user


def test_auditor_reads_everything(client, aud, world):
    w = world
    assert listed(client, RESIDENTS) == sorted([w["x"].pk, w["y"].pk])
    assert listed(client, ENROLLMENTS) == sorted([w["ex"].pk, w["ey"].pk])
    html = client.get(RESIDENTS).content.decode()
    assert w["x"].id_number in html and w["y"].id_number in html  # full numbers for the auditor
    for url in (f"{RESIDENTS}{w['x'].pk}/change/", f"{RESIDENTS}{w['x'].pk}/history/",
                f"{ENROLLMENTS}{w['ex'].pk}/change/", "/admin/pghistory/events/",
                "/admin/core/batchrun/"):
        assert client.get(url).status_code == 200, url
    assert client.get(f"/api/v1/enrollments/{w['x'].id_number}/2025").json()["status"] == "registered"


def test_auditor_changes_nothing(client, aud, world):
    w = world
    x = w["x"]
    assert client.get(f"{RESIDENTS}add/").status_code == 403
    assert client.post(f"{RESIDENTS}{x.pk}/change/", {"name": "改名", "region": "630100",
                                                      "hukou": "local"}).status_code == 403
    assert client.get(f"{RESIDENTS}{x.pk}/delete/").status_code == 403
    assert client.post(f"{RESIDENTS}{x.pk}/delete/", {"post": "yes"}).status_code == 403
    assert Resident.objects.get(pk=x.pk).name == "张西宁"

    # actions are not offered, and posting them does nothing
    with today_is(DAY):
        client.post(RESIDENTS, {"action": "register_for_year", "_selected_action": [x.pk, w["y"].pk],
                                "apply": "1", "year": "2026", "registered_via": "community"})
    client.post(ENROLLMENTS, {"action": "cancel_with_reason", "_selected_action": [w["ex"].pk], "apply": "1",
                              "reason": "审计不应注销"})
    assert Enrollment.objects.filter(year=2026).count() == 0
    assert Enrollment.objects.get(pk=w["ex"].pk).status == "registered"
    resp = client.get(RESIDENTS)
    assert "register_for_year" not in resp.content.decode()

    # nor through the API with the auditor's session
    Enrollment.objects.filter(pk=w["ex"].pk).delete()
    with today_is(DAY):
        resp = client.post("/api/v1/enrollments", json.dumps(
            {"id_number": x.id_number, "name": x.name, "region": "630100", "year": 2025,
             "registered_via": "online"}), content_type="application/json")
    assert (resp.status_code, resp.json()["error"]["code"]) == (403, "forbidden")
    assert not Enrollment.objects.filter(resident=x).exists()
