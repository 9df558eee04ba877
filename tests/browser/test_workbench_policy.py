"""Issue 12, item 9 in the browser: a policy administrator edits a draft year that fits the
screen, reads its age conditions as words and its source file as a link, and starts next year."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from accounts.roles import POLICY_ADMIN
from policy.models import PolicyYear
from policy.services import clone_policy_year

from .conftest import login
from .workbench import Watcher, assert_plain_chinese, shot

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("policies")]

PASSWORD = "Correct-horse-42"


def test_the_draft_editor_fits_and_next_year_starts_from_the_web(page, live_server):
    user = get_user_model().objects.create_user("policy_browser", password=PASSWORD, is_staff=True)
    user.groups.add(Group.objects.get(name=POLICY_ADMIN))
    draft = clone_policy_year(region="630100", from_year=2025, to_year=2026).policy_year
    watch = Watcher(page)
    page.set_viewport_size({"width": 1400, "height": 900})
    login(page, live_server, "policy_browser", PASSWORD)

    page.goto(f"{live_server.url}/admin/policy/policyyear/{draft.pk}/change/")
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 1400
    ages = page.locator("input[name$='-age_ranges']").evaluate_all("inputs => inputs.map(i => i.value)")
    assert "-18、60-" in ages and not any("[" in a for a in ages)
    link = page.locator(".field-source_link a")
    assert link.get_attribute("href").endswith(f"/admin/policy/policyyear/source/{draft.source_document}")
    shot(page, "workbench-policy-draft")

    page.goto(f"{live_server.url}/admin/policy/policyyear/")
    xining = PolicyYear.objects.get(region_id="630100", year=2026)
    page.check(f"input[name=_selected_action][value='{xining.pk}']")
    page.select_option("select[name=action]", "start_next_year")
    page.click("button[name=index]")
    page.wait_for_selector("ul.messagelist li")
    assert page.inner_text("ul.messagelist li") == "已建立草稿：西宁市 2027 年度（复制自 2026 年度，日期顺延一年）"
    assert PolicyYear.objects.get(region_id="630100", year=2027).status == "draft"
    assert_plain_chinese(page.inner_text("ul.messagelist"))
    shot(page, "workbench-policy-next-year")
    watch.assert_clean()
