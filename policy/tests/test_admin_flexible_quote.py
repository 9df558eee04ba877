"""缴费测算 offers the flexible-employment scheme (issue 13): the scheme choice, its facts,
the answer in words with each part and date, refusals in words (Xianyang 002)."""

from datetime import date
from html import unescape

import pytest
from django.test import Client

from enrollment.tests.support import caseworker

pytestmark = pytest.mark.django_db
URL = "/admin/quote/"

FLEX = {"scheme": "flexible_employment", "region": "610400", "year": "2025", "paid_on": "2024-12-20",
        "flex_status": "in_service", "file_held_at": "reemployment_centre", "paid_previous_year": "on"}


@pytest.fixture
def client(policies, settings):
    settings.BUSINESS_DATE = date(2024, 12, 1)
    c = Client()
    c.force_login(caseworker("xy_quote", "610400"))
    return c


def text(resp) -> str:
    return unescape(resp.content.decode())


def row(html: str, head: str) -> str:
    """The text of the result table's cell after ``<th>head</th>``."""
    start = html.index(f"<th>{head}</th><td>") + len(f"<th>{head}</th><td>")
    return html[start:html.index("</td>", start)]


def test_defaults_come_from_the_users_region_and_the_business_date(client):
    resp = client.get(URL)
    form = resp.context["form"]
    assert (form.initial["region"], form.initial["year"], form.initial["paid_on"], form.initial["scheme"]) == (
        "610400", 2025, date(2024, 12, 1), "resident")
    assert (form.initial["flex_status"], form.initial["file_held_at"], form.initial["paid_previous_year"]) == (
        "in_service", "reemployment_centre", True)
    html = text(resp)
    for words in ("城乡居民基本医疗保险", "灵活就业人员医疗保险", "人员状态", "档案托管", "已缴纳上一年度医疗保险费",
                  "到达法定退休年龄日期", "特殊群体、困难军转干部、对越作战、涉核退休人员"):
        assert words in html


def test_in_service_paid_by_the_deadline_each_part_in_words(client):
    resp = client.post(URL, FLEX)
    answer = resp.context["answer"]
    assert (answer["amount_due"], answer["timing"], answer["benefit_start"], answer["certificate_from"]) == (
        "3676.80", "on_time", "2025-01-01", "2024-12-25")
    html = text(resp)
    assert "测算结果：灵活就业人员医疗保险" in html
    assert row(html, "人员状态") == "在职人员"
    assert row(html, "基本医疗保险") == '<span class="money">3456.00</span> 元/年'
    assert row(html, "大额医疗补助") == '<span class="money">172.80</span> 元/年'
    assert row(html, "大病保险") == '<span class="money">48.00</span> 元/年'
    assert '<th>应缴金额</th><td class="money"><strong>3676.80</strong> 元</td>' in html
    assert row(html, "缴费情形") == "按期缴费"
    assert row(html, "中断月数") == "无中断"
    assert row(html, "补足中断期间基本医疗保险费") == "无"
    assert row(html, "待遇期") == "2025-01-01 至 2025-12-31"
    assert row(html, "等待期") == "无"
    assert row(html, "缴费证明可打印日") == "2024-12-25 起"
    assert row(html, "在职转退休") == "不涉及"
    assert "<li>缴费构成：基本医疗保险 3456.00 元 + 大额医疗补助 172.80 元 + 大病保险 48.00 元 = 3676.80 元/年</li>" in html
    assert "flexible_employment" not in html.split("测算结果")[1]  # codes never shown in the answer


def test_interruption_of_three_months_made_up(client):
    html = text(client.post(URL, {**FLEX, "paid_on": "2025-03-31"}))
    assert row(html, "缴费情形") == "中断 3 个月内恢复缴费（补足中断期间基本医疗保险费）"
    assert row(html, "中断月数") == "3 个月"
    assert row(html, "补足中断期间基本医疗保险费") == '<span class="money">864.00</span> 元（已含在应缴金额内）'
    assert row(html, "待遇期") == "2025-03-31 至 2025-12-31"
    assert row(html, "等待期") == "无"
    assert row(html, "缴费证明可打印日") == "2025-04-05 起"


def test_more_than_three_months_waits_three_months(client):
    html = text(client.post(URL, {**FLEX, "paid_on": "2025-04-01"}))
    assert row(html, "缴费情形") == "中断超过 3 个月，按初次参保执行等待期"
    assert row(html, "中断月数") == "4 个月"
    assert row(html, "待遇期") == "2025-07-01 至 2025-12-31"
    assert row(html, "等待期") == "3 个月（等待期内医疗费用不予报销）"


def test_retired_pays_no_basic_part(client):
    resp = client.post(URL, {**FLEX, "flex_status": "retired"})
    html = text(resp)
    assert resp.context["answer"]["amount_due"] == "220.80"
    assert row(html, "人员状态") == "退休人员"
    assert row(html, "基本医疗保险") == "不缴纳"
    assert row(html, "大额医疗补助") == '<span class="money">172.80</span> 元/年'
    assert row(html, "大病保险") == '<span class="money">48.00</span> 元/年'


def test_reaching_retirement_age_in_the_year(client):
    html = text(client.post(URL, {**FLEX, "retirement_age_reached_on": "2025-06-15"}))
    assert row(html, "在职转退休") == "2025-07-01 起"


def test_a_region_without_the_scheme_is_refused_in_words(client):
    resp = client.post(URL, {**FLEX, "region": "141100", "year": "2026", "paid_on": "2026-01-10"})
    html = text(resp)
    assert "<h2>该地区没有灵活就业人员医疗保险</h2>" in html
    assert "吕梁市 2026 年度没有灵活就业人员医疗保险的政策（来源文件未涉及）" in html
    assert "测算结果" not in html and "scheme_not_offered" not in html


@pytest.mark.parametrize("change, message", [
    ({"file_held_at": "other_agency"}, "市本级档案托管在其他人事代理机构的人员，请按原渠道缴纳"),
    ({"paid_previous_year": ""}, "未缴纳上一年度医疗保险费（中断补缴或一次性补费），请前往参保地医疗保险经办中心办理补缴业务"),
    ({"special_group": "on"}, "特殊群体、困难军转干部、对越作战、涉核退休人员，请到咸阳市政务服务中心医保窗口咨询办理"),
])
def test_a_referral_is_shown_in_words(client, change, message):
    data = {**FLEX, **change}
    data = {k: v for k, v in data.items() if v != ""}
    html = text(client.post(URL, data))
    assert "<h2>不符合参保条件</h2>" in html
    assert message in html
    assert "测算结果" not in html and "not_eligible" not in html


def test_after_the_year_is_window_closed_in_words(client):
    html = text(client.post(URL, {**FLEX, "paid_on": "2026-01-02"}))
    assert "<h2>不在缴费期内</h2>" in html
    assert "2026-01-02 已过 2025 年度，请前往参保地医疗保险经办中心办理补缴业务" in html


def test_missing_flexible_facts_are_field_errors(client):
    resp = client.post(URL, {k: v for k, v in FLEX.items() if k not in ("flex_status", "file_held_at")})
    assert resp.context["form"].errors == {"flex_status": ["请选择人员状态"], "file_held_at": ["请选择档案托管机构"]}
    assert "请改正下面标出的错误。" in text(resp)


def test_the_resident_scheme_still_needs_a_birth_date(client):
    data = {k: v for k, v in FLEX.items() if k != "scheme"}
    resp = client.post(URL, data)
    assert resp.context["form"].errors == {"birth_date": ["请填写出生日期"], "hukou": ["请选择户籍"]}
