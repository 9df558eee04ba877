"""Issue 13 in a real browser (Ningbo, business date 2024-11-15): a caseworker records a
discharged soldier's leaving on the resident's page, registers a non-local newborn on the
mother's residence permit, reads what documents are missing on the registration's page and
records the agent and the documents seen — plain Chinese, no console errors, a screenshot each."""

from datetime import date

import pytest
from playwright.sync_api import expect

from enrollment.models import Enrollment, NewbornParentLink, RegistrationAgent, RegistrationDocument, SchemeExit
from enrollment.tests.support import PASSWORD, caseworker, number, person, register_and_pay

from .conftest import login
from .workbench import Watcher, assert_plain_chinese, shot, visible_text

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("policies")]

DAY = date(2024, 11, 15)


@pytest.fixture(autouse=True)
def _business_date(settings):
    settings.BUSINESS_DATE = DAY


def test_leaving_newborn_documents_and_agent(page, live_server):
    user = caseworker("nb_dossier", "330200")
    soldier = person("330203", "19990101", "017", name="退役兵", today=DAY)
    mother = person("330203", "19930101", "022", name="母亲", hukou="nonlocal", residence_permit=True,
                    residence_permit_expires_on=date(2027, 1, 1), today=DAY)
    register_and_pay(mother, 2025, DAY, DAY, "780.00")
    baby = person("330203", "20240901", "033", name="宝宝", hukou="nonlocal", today=DAY)
    watch = Watcher(page)
    login(page, live_server, "nb_dossier", PASSWORD)

    # 1. the leaving, on the resident's page
    page.goto(f"{live_server.url}/admin/enrollment/resident/{soldier.pk}/change/")
    group = page.locator("#scheme_exits-group")
    expect(group).to_contain_text("退出其他制度保障记录")
    group.locator(".add-row a").click()
    page.select_option("#id_scheme_exits-0-kind", label="当年退出现役的军人")
    page.fill("#id_scheme_exits-0-left_on", "2024-10-20")
    page.select_option("#id_scheme_exits-0-evidence_kind", label="退出现役证明（退役证）")
    page.fill("#id_scheme_exits-0-evidence_number", "退役-2024-88")
    page.click("input[name=_continue]")
    page.wait_for_selector("ul.messagelist")
    expect(page.locator("#scheme_exits-group")).to_contain_text("退役-2024-88")
    expect(page.locator("#scheme_exits-group")).to_contain_text("nb_dossier")
    row = SchemeExit.objects.get(resident=soldier)
    assert (row.left_on, row.recorded_by_id) == (date(2024, 10, 20), user.pk)
    assert_plain_chinese(visible_text(page), allow=("nb_dossier",))
    shot(page, "issue13-resident-leaving")

    # 2. the non-local newborn on the mother's permit
    page.goto(f"{live_server.url}/admin/enrollment/resident/")
    page.check(f"input[name=_selected_action][value='{baby.pk}']")
    page.select_option("select[name=action]", "register_newborn_on_parent_permit")
    page.click("button[name=index]")
    page.wait_for_selector("input[name=parent_id_number]")
    page.fill("input[name=parent_id_number]", mother.id_number)
    page.uncheck("input[name=same_household]")
    assert_plain_chinese(visible_text(page), allow=("nb_dossier",))
    shot(page, "issue13-newborn-form")
    page.click("input[type=submit][value=确定]")
    page.wait_for_url("**/admin/enrollment/resident/")
    expect(page.locator("ul.messagelist li.success")).to_have_text("已凭 母亲 的居住证登记 1 人")
    e = Enrollment.objects.get(resident=baby)
    assert NewbornParentLink.objects.get(enrollment=e).parent_id == mother.pk

    # 3. the registration's page: what is missing; the agent and the documents seen
    page.goto(f"{live_server.url}/admin/enrollment/enrollment/{e.pk}/change/")
    expect(page.locator("#content")).to_contain_text("材料未齐，缺：户口簿、父母一方的本市有效居住证、出生医学证明")
    expect(page.locator("#parent_link-group")).to_contain_text("母亲（330203********")
    assert_plain_chinese(visible_text(page), allow=("nb_dossier",))
    shot(page, "issue13-registration-missing")
    page.locator("#agent-group .add-row a").click()
    page.fill("#id_agent-0-name", "外婆")
    page.fill("#id_agent-0-id_number", number("330203", "19600101", "042"))
    page.select_option("#id_agent-0-relation", label="（外）祖父母")
    documents = page.locator("#documents-group")
    for i, label in enumerate(["户口簿", "父母一方的本市有效居住证", "出生医学证明"]):
        documents.locator(".add-row a").click()
        page.select_option(f"#id_documents-{i}-kind", label=label)
    page.click("input[name=_continue]")
    page.wait_for_selector("ul.messagelist")
    expect(page.locator("#content")).to_contain_text("材料未齐，缺：代办人身份证")
    documents = page.locator("#documents-group")
    documents.locator(".add-row a").click()
    page.select_option("#id_documents-3-kind", label="代办人身份证")
    page.click("input[name=_continue]")
    page.wait_for_selector("ul.messagelist")
    expect(page.locator("#content")).to_contain_text("材料已齐：户口簿、父母一方的本市有效居住证、出生医学证明、代办人身份证")
    assert RegistrationAgent.objects.get(enrollment=e).relation == "grandparent"
    assert RegistrationDocument.objects.filter(enrollment=e, seen_by=user).count() == 4
    assert baby.id_number not in page.content()
    agent_number = number("330203", "19600101", "042")
    assert agent_number not in page.content()
    expect(page.locator("#id_agent-0-id_number")).to_have_value(agent_number[:6] + "********" + agent_number[-4:])
    assert_plain_chinese(visible_text(page), allow=("nb_dossier",))
    shot(page, "issue13-registration-complete")
    watch.assert_clean()
