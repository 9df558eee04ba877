"""Documents and agents of a registration (000 §2): the checklist derived from the person's
situation, what was seen (which, by whom, when), what is missing in plain Chinese; the agent's
identity checked like a resident's; bad input refused with nothing written; audited."""

from __future__ import annotations

from datetime import date

import pytest

from enrollment.documents import (
    checklist,
    holder_kind,
    registration_agent_record,
    registration_document_record,
    registration_document_remove,
    required_documents,
)
from enrollment.idnumbers import make_number
from enrollment.models import Enrollment, RegistrationAgent, RegistrationDocument
from enrollment.newborns import enrollment_register_newborn
from enrollment.services import EnrollmentError, enrollment_cancel, resident_create

from .support import caseworker, number, person, register, register_and_pay

pytestmark = pytest.mark.usefixtures("policies")

IN_WINDOW = date(2024, 11, 1)
CITIZEN = number("330203", "19800101", "011")
HMT = make_number("81000019800101001")
FOREIGNER = make_number("91115619800101001")


@pytest.mark.parametrize("kw, expected", [
    ({"id_number": CITIZEN, "hukou": "local"}, ("id_card",)),
    ({"id_number": CITIZEN, "hukou": "nonlocal"}, ("id_card", "residence_permit")),
    ({"id_number": HMT, "hukou": "nonlocal"}, ("hmt_residence_permit",)),
    ({"id_number": FOREIGNER, "hukou": "nonlocal"}, ("foreigner_permanent_residence",)),
    ({"id_number": CITIZEN, "hukou": "nonlocal", "via_parent_permit": True}, ("hukou_book", "parent_residence_permit")),
    ({"id_number": CITIZEN, "hukou": "nonlocal", "via_parent_permit": True, "same_household": False},
     ("hukou_book", "parent_residence_permit", "birth_certificate")),
    ({"id_number": CITIZEN, "hukou": "nonlocal", "via_parent_permit": True, "parent_nonlocal": False},
     ("hukou_book",)),
    ({"id_number": CITIZEN, "hukou": "local", "has_agent": True}, ("id_card", "agent_id_card")),
])
def test_required_documents_by_situation(kw, expected):
    assert required_documents(**kw) == expected


def test_holder_kind_from_the_number():
    assert (holder_kind(CITIZEN), holder_kind(HMT), holder_kind(make_number("83000019800101001")),
            holder_kind(FOREIGNER)) == ("citizen", "hmt", "hmt", "foreigner")


def nonlocal_adult(seq="011"):
    return person("330203", "19800101", seq, name="李四", hukou="nonlocal", residence_permit=True,
                  residence_permit_expires_on=date(2027, 1, 1), today=IN_WINDOW)


def test_a_counter_registration_by_an_agent_shows_what_is_missing_until_all_are_seen():
    user = caseworker("cw330", "330200")
    e = register(nonlocal_adult(), 2025, IN_WINDOW)
    assert checklist(e).summary() == "材料未齐，缺：本人居民身份证或社会保障卡、本市有效居住证"
    agent = registration_agent_record(enrollment=e, name=" 王五 ", id_number=number("330203", "19700101", "031").lower(),
                                      relation="sibling", actor=user)
    stored = RegistrationAgent.objects.get(enrollment=e)
    assert (stored.pk, stored.name, stored.id_number, stored.relation, stored.recorded_by_id) == (
        agent.pk, "王五", number("330203", "19700101", "031"), "sibling", user.pk)
    registration_document_record(enrollment=e, kind="id_card", number="330203********0112", actor=user)
    c = checklist(e)
    assert c.required == ("id_card", "residence_permit", "agent_id_card")
    assert c.missing == ("residence_permit", "agent_id_card")
    assert c.summary() == "材料未齐，缺：本市有效居住证、代办人身份证"
    assert (c.seen["id_card"].seen_by, c.seen["id_card"].number) == ("cw330", "330203********0112")
    for kind in ("residence_permit", "agent_id_card"):
        registration_document_record(enrollment=e, kind=kind, actor=user)
    assert checklist(e).summary() == "材料已齐：本人居民身份证或社会保障卡、本市有效居住证、代办人身份证"
    rows = list(RegistrationDocument.objects.filter(enrollment=e).order_by("id").values_list("kind", "seen_by_id"))
    assert rows == [("id_card", user.pk), ("residence_permit", user.pk), ("agent_id_card", user.pk)]
    events = RegistrationDocument.pgh_event_model.objects.filter(enrollment_id=e.pk).order_by("pgh_id")
    assert {ev.pgh_context.metadata["action"] for ev in events} == {"registration_document_record"}
    registration_document_remove(document=RegistrationDocument.objects.get(enrollment=e, kind="agent_id_card"),
                                 actor=user)
    assert checklist(e).missing == ("agent_id_card",)


def test_the_newborn_on_a_parent_permit_needs_the_birth_certificate_when_not_in_the_same_household():
    parent = person("330203", "19900101", "041", name="母亲", hukou="nonlocal", residence_permit=True,
                    residence_permit_expires_on=date(2027, 1, 1), today=IN_WINDOW)
    register_and_pay(parent, 2025, IN_WINDOW, IN_WINDOW, "780.00")
    baby = person("330203", "20240901", "052", name="宝宝", hukou="nonlocal", today=IN_WINDOW)
    e = enrollment_register_newborn(resident=baby, year=2025, parent=parent, same_household=False, actor=None,
                                    today=IN_WINDOW)
    assert checklist(e).summary() == "材料未齐，缺：户口簿、父母一方的本市有效居住证、出生医学证明"


@pytest.mark.parametrize("region_person, via, summary", [
    (lambda: nonlocal_adult("061"), "online", "网上办理，无需查验纸质材料"),
    (lambda: nonlocal_adult("071"), "school", "学校统一办理，无需查验纸质材料"),
    (lambda: person("141102", "19800101", "081"), "community", "来源文件未列出该地区参保登记所需材料"),
])
def test_no_checklist_where_no_paper_is_seen_or_the_source_lists_none(region_person, via, summary):
    r = region_person()
    e = register(r, 2026 if r.region_id == "141100" else 2025,
                 date(2026, 1, 10) if r.region_id == "141100" else IN_WINDOW, via=via)
    c = checklist(e)
    assert (c.required, c.summary(), c.complete) == ((), summary, True)


def test_hmt_and_foreign_residents_show_their_own_document():
    hmt = resident_create(id_number=HMT, name="陈大文", region="330200", hukou="nonlocal", residence_permit=True,
                          residence_permit_expires_on=date(2027, 1, 1), actor=None, today=IN_WINDOW)
    foreigner = resident_create(id_number=FOREIGNER, name="安娜", region="330200", hukou="nonlocal",
                                residence_permit=True, residence_permit_expires_on=date(2027, 1, 1), actor=None,
                                today=IN_WINDOW)
    assert checklist(register(hmt, 2025, IN_WINDOW)).summary() == "材料未齐，缺：港澳台居民居住证"
    assert checklist(register(foreigner, 2025, IN_WINDOW)).summary() == "材料未齐，缺：外国人永久居留身份证"


@pytest.mark.parametrize("change, message", [
    ({"name": " "}, "请填写代办人姓名"),
    ({"name": "王\u202e五"}, "代办人姓名过长或含有不可见字符"),
    ({"id_number": "330203197001010310"}, "代办人身份证号码校验位不正确"),
    ({"id_number": "33020319700101"}, "代办人身份证号码应为 18 位，实为 14 位"),
    ({"id_number": "self"}, "代办人不能是参保人本人"),
    ({"relation": "friend"}, "请选择代办人与参保人的关系"),
])
def test_a_bad_agent_is_refused_and_nothing_is_written(change, message):
    r = nonlocal_adult("091")
    e = register(r, 2025, IN_WINDOW)
    args = {"name": "王五", "id_number": number("330203", "19700101", "031"), "relation": "sibling", **change}
    if args["id_number"] == "self":
        args["id_number"] = r.id_number
    with pytest.raises(EnrollmentError) as exc:
        registration_agent_record(enrollment=e, actor=None, **args)
    assert (exc.value.code, exc.value.message) == ("invalid_input", message)
    assert not RegistrationAgent.objects.exists()


def test_bad_documents_and_cancelled_registrations_are_refused():
    e = register(nonlocal_adult("101"), 2025, IN_WINDOW)
    with pytest.raises(EnrollmentError) as exc:
        registration_document_record(enrollment=e, kind="passport", actor=None)
    assert exc.value.message == "请选择材料名称"
    registration_document_record(enrollment=e, kind="id_card", actor=None)
    with pytest.raises(EnrollmentError) as exc:
        registration_document_record(enrollment=e, kind="id_card", actor=None)
    assert (exc.value.code, exc.value.message) == ("duplicate", "已登记查验过本人居民身份证或社会保障卡")
    enrollment_cancel(enrollment=e, reason="重复登记", actor=None)
    with pytest.raises(EnrollmentError) as exc:
        registration_document_record(enrollment=e, kind="residence_permit", actor=None)
    assert exc.value.message == "2025 年度登记已注销，不能再登记材料或代办人"
    assert list(RegistrationDocument.objects.values_list("kind", flat=True)) == ["id_card"]
    assert Enrollment.objects.get(pk=e.pk).status == "cancelled"
