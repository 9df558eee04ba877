"""Issue 12 on the policy screens: 缴费测算 in plain Chinese with defaults from the user's
regions and the business date."""

import re
from datetime import date
from html import unescape

import pytest

from enrollment.tests.support import caseworker

QUOTE_URL = "/admin/quote/"
NINGBO_ROW = {"region": "330200", "year": "2025", "paid_on": "2024-11-10", "birth_date": "1980-05-01",
              "hukou": "local", "history_2025": ""}


@pytest.fixture
def business_day(settings):
    settings.BUSINESS_DATE = date(2026, 11, 30)
    return settings.BUSINESS_DATE


@pytest.fixture
def ningbo(client, policies, business_day):
    client.force_login(caseworker("cw_quote_nb", "330200"))
    return client


def history_rows(html: str) -> dict[int, bool]:
    """Year -> shown, for each 历年参保记录 row on the page."""
    return {int(y): "hidden" not in attrs
            for attrs, y in re.findall(r'<div class="form-row history-row"([^>]*)data-year="(\d{4})"', html)}


# --- item 3: 缴费测算 -------------------------------------------------------------------------------


def test_quote_defaults_to_the_users_region_its_year_and_the_business_date(ningbo):
    resp = ningbo.get(QUOTE_URL)
    form = resp.context["form"]
    # Ningbo has published 2025 only; not 吕梁, not the latest year of any region (上海 2027)
    assert (form["region"].value(), form["year"].value(), form["paid_on"].value()) == (
        "330200", 2025, date(2026, 11, 30))
    html = unescape(resp.content.decode())
    assert 'value="2026-11-30"' in html
    # history is asked only for years before the quote year
    assert history_rows(html) == {2025: False, 2026: False, 2027: False, 2028: False, 2029: False, 2030: False}


def test_a_county_caseworker_starts_on_the_county_and_its_citys_year(client, policies, business_day):
    client.force_login(caseworker("cw_quote_xy", "141181"))
    form = client.get(QUOTE_URL).context["form"]
    assert (form["region"].value(), form["year"].value()) == ("141181", 2026)


def test_history_rows_follow_the_quote_year(client, policies, business_day):
    client.force_login(caseworker("cw_quote_ll", "141100"))
    html = unescape(client.get(QUOTE_URL).content.decode())
    assert history_rows(html) == {2025: True, 2026: False, 2027: False, 2028: False, 2029: False, 2030: False}


def test_the_result_names_the_category_and_shows_no_code(ningbo):
    resp = ningbo.post(QUOTE_URL, NINGBO_ROW)
    assert resp.context["answer"]["category"] == "adult"
    html = unescape(resp.content.decode())
    assert "<tr><th>参保类别</th><td>成年居民</td></tr>" in html
    assert ">adult<" not in html and "请求 JSON" not in html


def test_an_error_shows_no_code(ningbo):
    resp = ningbo.post(QUOTE_URL, {**NINGBO_ROW, "year": "2031"})
    html = unescape(resp.content.decode())
    assert "<h2>没有已发布的政策</h2>" in html and "宁波市 2031 年度没有已发布的政策" in html
    assert "policy_missing" not in html and "错误代码" not in html


# --- item 9: the policy editor — age conditions in words, the source file linked, next year from the web


from policy.models import AssistanceTier, PolicyYear  # noqa: E402
from policy.services import clone_policy_year  # noqa: E402
from policy.tests.test_admin import change_url, form_values, logged_in, user_in  # noqa: E402

from accounts.roles import POLICY_ADMIN  # noqa: E402


@pytest.fixture
def policy_admin(policies):
    return user_in(POLICY_ADMIN, "policy.admin.wb")


@pytest.fixture
def draft(policies):
    return clone_policy_year(region="630100", from_year=2025, to_year=2026).policy_year


def tier_prefix(data) -> str:
    return next(k[: -len("-age_ranges")] for k, v in data.items() if k.endswith("-age_ranges") and "18" in v)


def test_age_conditions_are_edited_as_words_not_json(draft, policy_admin):
    client = logged_in(policy_admin)
    resp = client.get(change_url(draft))
    data = form_values(resp)
    prefix = tier_prefix(data)
    assert data[f"{prefix}-age_ranges"] == "-18、60-"
    html = unescape(resp.content.decode())
    assert "[[null, 18]" not in html and "[null" not in html
    data[f"{prefix}-age_ranges"] = "-16、65-"
    resp = client.post(change_url(draft), data)
    assert resp.status_code == 302, resp.context["errors"]
    tier = AssistanceTier.objects.get(pk=data[f"{prefix}-id"])
    assert tier.age_ranges == [[None, 16], [65, None]]
    data[f"{prefix}-age_ranges"] = "六十以上"
    resp = client.post(change_url(draft), data)
    assert resp.status_code == 200
    assert "年龄条件写法：如 -18、60-" in unescape(resp.content.decode())
    assert AssistanceTier.objects.get(pk=tier.pk).age_ranges == [[None, 16], [65, None]]


def test_the_source_file_is_a_link_to_its_text(draft, policy_admin):
    client = logged_in(policy_admin)
    html = client.get(change_url(draft)).content.decode()
    name = draft.source_document
    assert name and f'href="/admin/policy/policyyear/source/{name}"' in html
    resp = client.get(f"/admin/policy/policyyear/source/{name}")
    assert resp.status_code == 200 and resp["Content-Type"].startswith("text/plain")
    assert client.get("/admin/policy/policyyear/source/..%2F..%2Fmanage.py").status_code != 200
    assert client.get("/admin/policy/policyyear/source/manage.py").status_code == 404
    assert client.get("/admin/policy/policyyear/source/nothing.txt").status_code == 404


def test_a_policy_admin_starts_next_year_from_the_web(policies, policy_admin):
    client = logged_in(policy_admin)
    xining = PolicyYear.objects.get(region_id="630100", year=2025)
    resp = client.post("/admin/policy/policyyear/", {"action": "start_next_year", "_selected_action": [xining.pk]})
    assert resp.status_code == 302
    new = PolicyYear.objects.get(region_id="630100", year=2026)
    assert new.status == "draft"
    assert new.category_set.count() == xining.category_set.count()
    from django.contrib.messages import get_messages

    assert [str(m) for m in get_messages(resp.wsgi_request)] == ["已建立草稿：西宁市 2026 年度（复制自 2025 年度，日期顺延一年）"]
