"""登记方式 经办窗口 (``counter``) as a value of its own (issue 13): the API (INTERFACES.md §5 keeps
school / community / online and accepts counter too), the residents import's Chinese words, the
admin's registration form, the receipt's words, the documents checklist — and what depends on
the value: the family pool's cancellation deadline (the community rule: the registration day)
and the school notices (which read the pupil's school, never the 登记方式)."""

from __future__ import annotations

import json
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from enrollment.documents import checklist
from enrollment.imports import import_residents
from enrollment.models import Enrollment, RegisteredVia

from .import_support import NINGBO_MAN, RESIDENT_HEADER, csv_bytes
from .support import caseworker, person, register, today_is

pytestmark = pytest.mark.usefixtures("policies")

NINGBO_DAY = date(2024, 11, 1)
SH = ZoneInfo("Asia/Shanghai")


def test_the_value_and_its_words():
    assert (RegisteredVia.COUNTER.value, RegisteredVia.COUNTER.label) == ("counter", "经办窗口")
    assert RegisteredVia.COMMUNITY.label == "社区登记"
    assert set(RegisteredVia.values) >= {"school", "community", "online", "counter"}


# --- the API ----------------------------------------------------------------------------------


@pytest.mark.parametrize("via", ["counter", "community", "school", "online"])
def test_the_api_accepts_counter_beside_the_contracts_three(client, staff_token, via):
    r = person("330203", "19800101", "017", name="张三", today=NINGBO_DAY)
    with today_is(NINGBO_DAY):
        resp = client.post("/api/v1/enrollments", data=json.dumps({
            "id_number": r.id_number, "name": "张三", "region": "330200", "year": 2025, "registered_via": via}),
            content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {staff_token}")
    assert resp.status_code == 201
    assert resp.json()["registered_via"] == via
    assert Enrollment.objects.get(resident=r, year=2025).registered_via == via


@pytest.mark.parametrize("via", ["经办窗口", "window", "newborn", "default_renewal"])
def test_the_api_refuses_other_values_with_a_code(client, staff_token, via):
    r = person("330203", "19800101", "017", name="张三", today=NINGBO_DAY)
    with today_is(NINGBO_DAY):
        resp = client.post("/api/v1/enrollments", data=json.dumps({
            "id_number": r.id_number, "name": "张三", "region": "330200", "year": 2025, "registered_via": via}),
            content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {staff_token}")
    assert (resp.status_code, resp.json()["error"]["code"]) == (422, "invalid_input")
    assert resp.json()["error"]["message"] == "registered_via 应为 school、community、online、counter 之一"
    assert not Enrollment.objects.exists()


# --- the residents import ----------------------------------------------------------------------


@pytest.mark.parametrize("text, stored", [
    ("经办窗口", "counter"), ("窗口", "counter"), ("柜台", "counter"), ("医保经办窗口", "counter"),
    ("counter", "counter"),
    ("社区", "community"), ("社区登记", "community"), ("村委会", "community"),
    ("社区/经办窗口", "community"),  # the former single label, in files exported before: as before
    ("学校", "school"), ("网上", "online"),
])
def test_the_import_maps_the_chinese_words(text, stored):
    data = csv_bytes([["张三", NINGBO_MAN, "本地", "无", "", "330200", "2025", text]],
                     header=[*RESIDENT_HEADER, "参保年度", "登记方式"])
    result = import_residents(data, "a.csv", actor="tester", today=NINGBO_DAY)
    assert (result.rejected, result.errors, result.registered) == (False, [], 1)
    assert Enrollment.objects.get().registered_via == stored


# --- the admin ---------------------------------------------------------------------------------


def test_the_admins_registration_form_offers_and_stores_counter(client, settings):
    settings.BUSINESS_DATE = NINGBO_DAY
    user = caseworker("cw_counter", "330200")
    client.force_login(user)
    r = person("330203", "19800101", "017", name="张三", today=NINGBO_DAY)
    url = "/admin/enrollment/resident/"
    page = client.post(url, {"action": "register_for_year", "_selected_action": [r.pk]}).content.decode()
    assert '<option value="counter">经办窗口</option>' in page
    assert '<option value="community">社区登记</option>' in page
    with today_is(NINGBO_DAY):
        resp = client.post(url, {"action": "register_for_year", "_selected_action": [r.pk], "apply": "1",
                                 "year": "2025", "registered_via": "counter"})
    assert resp.status_code == 302
    e = Enrollment.objects.get(resident=r)
    assert (e.registered_via, e.get_registered_via_display(), e.registered_by_id) == ("counter", "经办窗口", user.pk)
    # a counter registration is one where paper is seen: Ningbo's checklist (000 §2)
    assert checklist(e).summary() == "材料未齐，缺：本人居民身份证或社会保障卡"
    event = Enrollment.pgh_event_model.objects.get(pgh_obj_id=e.pk, pgh_label="insert")
    assert (event.registered_via, event.pgh_context.metadata["action"]) == ("counter", "enrollment_register")


# --- the family pool's cancellation deadline (004 Q: 如何取消共济缴费) -----------------------------


def test_the_pool_deadline_of_a_counter_registered_child_is_the_registration_day():
    from family_pool.networks import rules_of
    from family_pool.rules import ChildRegistration, premium_cancel_deadline

    rules = rules_of("310000", date(2024, 12, 1))
    on = date(2024, 12, 5)
    end_of_day = datetime(2024, 12, 6, 0, 0, tzinfo=SH)
    school = datetime(2024, 12, 20, 17, 0, tzinfo=SH)
    assert premium_cancel_deadline(rules, [ChildRegistration("counter", on)]) == end_of_day
    assert premium_cancel_deadline(rules, [ChildRegistration("community", on)]) == end_of_day
    assert premium_cancel_deadline(rules, [ChildRegistration("school", on)]) == school
    assert premium_cancel_deadline(rules, [ChildRegistration("online", on)]) == rules.premium_cutoff
    # a counter registration after the school deadline: the earliest of the children's
    late = ChildRegistration("counter", date(2024, 12, 27))
    assert premium_cancel_deadline(rules, [late, ChildRegistration("school", on)]) == school
    assert premium_cancel_deadline(rules, [late]) == datetime(2024, 12, 28, 0, 0, tzinfo=SH)


# --- the school notices (payments.notices reads the pupil's school, not the 登记方式) ----------


def test_a_counter_registered_pupil_is_on_the_schools_notice():
    from payments.notices import members

    pupil = person("310101", "20150901", "021", name="小明", today=date(2024, 11, 1), student="primary_secondary",
                   school="黄浦区实验小学")
    other = person("310101", "20160901", "032", name="小红", today=date(2024, 11, 1), student="primary_secondary",
                   school="黄浦区实验小学")
    register(pupil, 2025, date(2024, 11, 1), via="counter")
    register(other, 2025, date(2024, 11, 1), via="school")
    got = members(region="310000", year=2025, kind="school", collector="黄浦区实验小学")
    assert sorted((e.resident.name, e.registered_via) for e in got) == [("小明", "counter"), ("小红", "school")]


def test_a_counter_registered_child_joining_a_pool_gets_the_registration_day():
    from family_pool.networks import member_add, network_create, premium_deadline, rules_of
    from family_pool.tests.pool_support import at, employee, enrolled

    organizer = employee("310101", "19800101", "011", name="张组建", region="310000", hist="2000.00")
    network = network_create(organizer_id_number=organizer.id_number, actor="t", now=at(2024, 12, 1))
    kid = enrolled("310101", "20150601", "031", name="张小", year=2025, via="counter",
                   registered_at=at(2024, 12, 5, 9))
    member_add(network=network, id_number=kid.id_number, relation="child", actor="t", now=at(2024, 12, 6))
    rules = rules_of("310000", date(2024, 12, 6))
    assert premium_deadline(network, rules) == datetime(2024, 12, 6, 0, 0, tzinfo=SH)
