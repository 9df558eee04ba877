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
