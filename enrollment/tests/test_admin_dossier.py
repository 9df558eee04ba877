"""The screens of issue 13: leavings on the resident page, agent and documents on the registration
page, the non-local newborn action — in plain Chinese, saved through the services (audited),
bad input shown on the form with nothing written."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from enrollment.models import Enrollment, NewbornParentLink, RegistrationAgent, RegistrationDocument, SchemeExit

from .support import msgs, number, person, register, register_and_pay, today_is
from .test_admin import change_data

pytestmark = pytest.mark.usefixtures("policies")

RESIDENTS = "/admin/enrollment/resident/"
ENROLLMENTS = "/admin/enrollment/enrollment/"
IN_WINDOW = date(2024, 11, 1)


def exit_row(r, **over):
    row = {"scheme_exits-TOTAL_FORMS": "1", "scheme_exits-INITIAL_FORMS": "0",
           "scheme_exits-0-resident": str(r.pk), "scheme_exits-0-kind": "discharged_soldier",
           "scheme_exits-0-left_on": "2025-02-10", "scheme_exits-0-evidence_kind": "discharge",
           "scheme_exits-0-evidence_number": "退役-2025-17", "scheme_exits-0-note": ""}
    row.update({f"scheme_exits-0-{k}": v for k, v in over.items()})
    return row


def test_a_leaving_recorded_on_the_resident_page(client, cw):
    r = person("330203", "19950101", "017", name="退役兵", today=IN_WINDOW)
    page = client.get(f"{RESIDENTS}{r.pk}/change/").content.decode()
    assert "退出其他制度保障记录（退役、随军配偶、刑满释放、职工医保中断）" in page
    with today_is(date(2025, 3, 1)):
        resp = client.post(f"{RESIDENTS}{r.pk}/change/", {**change_data(r), **exit_row(r)})
    assert resp.status_code == 302, resp.context and resp.context["inline_admin_formsets"][1].formset.errors
    row = SchemeExit.objects.get(resident=r)
    assert (row.kind, row.left_on, row.evidence_kind, row.evidence_number, row.recorded_by_id) == (
        "discharged_soldier", date(2025, 2, 10), "discharge", "退役-2025-17", cw.pk)
    event = SchemeExit.pgh_event_model.objects.get(pgh_obj_id=row.pk)
    assert (event.pgh_label, event.pgh_context.metadata["action"], event.pgh_context.metadata["user"]) == (
        "insert", "scheme_exit_record", cw.pk)
    page = client.get(f"{RESIDENTS}{r.pk}/change/").content.decode()
    assert "当年退出现役的军人" in page and "退出现役证明（退役证）" in page and "cw330" in page


def test_a_future_leaving_is_refused_on_the_form_and_nothing_is_written(client, cw):
    r = person("330203", "19950101", "027", name="未来", today=IN_WINDOW)
    with today_is(date(2025, 3, 1)):
        resp = client.post(f"{RESIDENTS}{r.pk}/change/", {**change_data(r), **exit_row(r, left_on="2025-03-02")})
    assert resp.status_code == 200
    assert "退出日期 2025-03-02 晚于今天 2025-03-01，不能预先登记" in resp.content.decode()
    assert not SchemeExit.objects.exists()


def test_the_registration_page_shows_what_is_missing_and_records_agent_and_documents(client, cw):
    r = person("330203", "19800101", "037", name="外地人", hukou="nonlocal", residence_permit=True,
               residence_permit_expires_on=date(2027, 1, 1), today=IN_WINDOW)
    e = register(r, 2025, IN_WINDOW)
    page = client.get(f"{ENROLLMENTS}{e.pk}/change/").content.decode()
    assert "材料未齐，缺：本人居民身份证或社会保障卡、本市有效居住证" in page
    agent_number = number("330203", "19700101", "031")
    data = {"agent-TOTAL_FORMS": "1", "agent-INITIAL_FORMS": "0", "agent-0-enrollment": str(e.pk),
            "agent-0-name": "王五", "agent-0-id_number": agent_number.lower(), "agent-0-relation": "sibling",
            "documents-TOTAL_FORMS": "2", "documents-INITIAL_FORMS": "0",
            "documents-0-enrollment": str(e.pk), "documents-0-kind": "id_card", "documents-0-number": "",
            "documents-1-enrollment": str(e.pk), "documents-1-kind": "residence_permit",
            "documents-1-number": "浙居-123"}
    resp = client.post(f"{ENROLLMENTS}{e.pk}/change/", data)
    assert resp.status_code == 302, resp.content.decode()[-3000:]
    agent = RegistrationAgent.objects.get(enrollment=e)
    assert (agent.name, agent.id_number, agent.relation, agent.recorded_by_id) == ("王五", agent_number, "sibling",
                                                                                  cw.pk)
    assert sorted(RegistrationDocument.objects.filter(enrollment=e).values_list("kind", "number", "seen_by_id")) == [
        ("id_card", "", cw.pk), ("residence_permit", "浙居-123", cw.pk)]
    page = client.get(f"{ENROLLMENTS}{e.pk}/change/").content.decode()
    assert "材料未齐，缺：代办人身份证" in page and "已查验" in page
    assert Enrollment.objects.get(pk=e.pk).updated_at == e.updated_at  # the registration itself untouched


def test_a_bad_agent_number_is_shown_on_the_form_and_nothing_is_written(client, cw):
    r = person("330203", "19800101", "047", name="本地人", today=IN_WINDOW)
    e = register(r, 2025, IN_WINDOW)
    data = {"agent-TOTAL_FORMS": "1", "agent-INITIAL_FORMS": "0", "agent-0-enrollment": str(e.pk),
            "agent-0-name": "王五", "agent-0-id_number": "330203197001010310", "agent-0-relation": "sibling",
            "documents-TOTAL_FORMS": "1", "documents-INITIAL_FORMS": "0",
            "documents-0-enrollment": str(e.pk), "documents-0-kind": "id_card"}
    resp = client.post(f"{ENROLLMENTS}{e.pk}/change/", data)
    assert resp.status_code == 200
    assert "代办人身份证号码校验位不正确" in resp.content.decode()
    assert not RegistrationAgent.objects.exists() and not RegistrationDocument.objects.exists()


def test_the_newborn_action_registers_on_the_parents_permit(client, cw):
    parent = person("330203", "19900101", "051", name="母亲", hukou="nonlocal", residence_permit=True,
                    residence_permit_expires_on=date(2027, 1, 1), today=IN_WINDOW)
    register_and_pay(parent, 2025, IN_WINDOW, IN_WINDOW, "780.00")
    baby = person("330203", "20240901", "062", name="宝宝", hukou="nonlocal", today=IN_WINDOW)
    other = person("330203", "20240901", "073", name="无父母记录", hukou="nonlocal", today=IN_WINDOW)
    post = {"action": "register_newborn_on_parent_permit", "_selected_action": [str(baby.pk)], "apply": "1",
            "year": "2025", "registered_via": "newborn", "parent_id_number": parent.id_number.lower()}
    with today_is(IN_WINDOW):
        form = client.post(RESIDENTS, {"action": post["action"], "_selected_action": [str(baby.pk)]})
        assert "外地新生儿凭父母居住证登记" in form.content.decode() and "父母一方身份证号码" in form.content.decode()
        resp = client.post(RESIDENTS, post)
    assert resp.status_code == 302
    assert "已凭 母亲 的居住证登记 1 人" in msgs(resp)
    e = Enrollment.objects.get(resident=baby)
    assert (e.category, e.amount_due, e.nonlocal_via_parent_permit, e.registered_via) == (
        "infant", Decimal("630.00"), True, "newborn")
    link = NewbornParentLink.objects.get(enrollment=e)
    assert (link.parent_id, link.same_household, link.recorded_by_id) == (parent.pk, False, cw.pk)
    page = client.get(f"{ENROLLMENTS}{e.pk}/change/").content.decode()
    assert "母亲（330203********" in page
    assert "材料未齐，缺：户口簿、父母一方的本市有效居住证、出生医学证明" in page

    unknown = number("330203", "19900101", "993")
    with today_is(IN_WINDOW):
        resp = client.post(RESIDENTS, {**post, "_selected_action": [str(other.pk)], "parent_id_number": unknown})
    assert any("未找到身份证号码为 330203********" in m and "请先登记父母一方" in m for m in msgs(resp))
    assert not Enrollment.objects.filter(resident=other).exists()


def test_the_resident_pages_audit_trail_shows_the_leaving_in_words(client, cw):
    from enrollment.leavers import scheme_exit_record

    r = person("330203", "19950101", "087", name="刑释", today=IN_WINDOW)
    scheme_exit_record(resident=r, kind="released_prisoner", left_on=date(2024, 10, 1), evidence_kind="release",
                       evidence_number="释-9", actor=cw, today=IN_WINDOW)
    page = client.get(f"{RESIDENTS}{r.pk}/change/").content.decode()
    start = page.index("变更记录（谁、何时、改了什么）")
    trail = page[start:page.index("</table>", start)]
    assert "退出其他制度保障记录" in trail and "刑满释放人员" in trail and "released_prisoner" not in trail


def test_an_agent_renamed_keeps_the_number_recorded_and_it_is_never_shown_in_full(client, cw):
    from enrollment.documents import registration_agent_record

    r = person("330203", "19800101", "097", name="本地人", today=IN_WINDOW)
    e = register(r, 2025, IN_WINDOW)
    agent_number = number("330203", "19700101", "031")
    agent = registration_agent_record(enrollment=e, name="王五", id_number=agent_number, relation="sibling",
                                      actor=cw)
    page = client.get(f"{ENROLLMENTS}{e.pk}/change/").content.decode()
    assert agent_number not in page and "330203********" in page
    data = {"agent-TOTAL_FORMS": "1", "agent-INITIAL_FORMS": "1", "agent-0-id": str(agent.pk),
            "agent-0-enrollment": str(e.pk), "agent-0-name": "王五五", "agent-0-relation": "sibling",
            "documents-TOTAL_FORMS": "0", "documents-INITIAL_FORMS": "0"}
    resp = client.post(f"{ENROLLMENTS}{e.pk}/change/", data)
    assert resp.status_code == 302, resp.content.decode()[-2000:]
    stored = RegistrationAgent.objects.get(enrollment=e)
    assert (stored.pk, stored.name, stored.id_number) == (agent.pk, "王五五", agent_number)
