"""代收缴费通知单 (issue 12): a school's or a village committee's list of the people it collects
for, what each owes on the business date (priced by the rules, never read from a stored
amount) and the total; region scoped, masked ID numbers, plain Chinese for every refusal."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from enrollment.models import Enrollment
from enrollment.tests.support import caseworker, paid_row, person, register, register_and_pay
from payments.models import Payment
from payments.notices import NoticeError, collectors, notice_for

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("policies")]
SH = ZoneInfo("Asia/Shanghai")
DAY = date(2024, 11, 1)
SCHOOL = "宁波实验小学"
VILLAGE = "和平村村民委员会"


@pytest.fixture
def world(settings):
    settings.BUSINESS_DATE = date(2024, 11, 20)
    pupil = dict(student="primary_secondary", school=SCHOOL, today=DAY)
    a = person("330203", "20150101", "011", name="王小明", **pupil)
    b = person("330203", "20150202", "021", name="李小红", **pupil)
    c = person("330203", "20150303", "031", name="赵小刚", **pupil)
    other = person("330203", "20150404", "041", name="别校生", student="primary_secondary", school="东方小学",
                   today=DAY)
    gone = person("330203", "20150505", "051", name="已注销", **pupil)
    villager = person("330203", "19700101", "061", name="陈大山", today=DAY)
    register(a, 2025, DAY, via="school")
    register(b, 2025, DAY, via="school")
    register_and_pay(c, 2025, DAY, date(2024, 11, 10), "290.00")
    register(other, 2025, DAY, via="school")
    e = register(gone, 2025, DAY, via="school")
    Enrollment.objects.filter(pk=e.pk).update(status="cancelled", cancelled_at=timezone.now(), cancel_reason="转学")
    # the committee paid for him last year (a collective payment naming it); renewed for 2025
    last = paid_row(villager, 2024)
    Payment.objects.create(outcome="applied", channel="collective", txn_id="cun-2024-1", enrollment=last,
                           id_number=villager.id_number, name=villager.name, region_id="330200", year=2024,
                           amount=Decimal("400.00"), paid_at=datetime(2023, 12, 1, 10, tzinfo=SH),
                           paid_on=date(2023, 12, 1), payer_kind="collector", payer_name=VILLAGE)
    register(villager, 2025, DAY, via="default_renewal")
    return {"a": a, "b": b, "c": c, "villager": villager}


def test_a_schools_notice_lists_its_pupils_with_what_each_owes_today(world):
    n = notice_for(region="330200", region_name="宁波市", year=2025, kind="school", collector=SCHOOL,
                   today=date(2024, 11, 20))
    assert [(ln.seq, ln.name, ln.masked_id, ln.status, ln.amount, ln.note) for ln in n.lines] == [
        (1, "李小红", "330203********" + world["b"].id_number[-4:], "待缴费", Decimal("290.00"), ""),
        (2, "王小明", "330203********" + world["a"].id_number[-4:], "待缴费", Decimal("290.00"), ""),
        (3, "赵小刚", "330203********" + world["c"].id_number[-4:], "已缴费", None, "已于 2024-11-10 缴费 290.00 元")]
    assert (n.total, n.owing, n.paid, n.unpriced) == (Decimal("580.00"), 2, 1, 0)


def test_a_village_committees_notice_lists_whom_it_collected_for(world):
    n = notice_for(region="330200", region_name="宁波市", year=2025, kind="village", collector=VILLAGE,
                   today=date(2024, 11, 20))
    assert [(ln.name, ln.status, ln.amount) for ln in n.lines] == [("陈大山", "待缴费", Decimal("780.00"))]
    assert n.total == Decimal("780.00")
    assert collectors(region="330200", year=2025) == [("school", "东方小学"), ("school", SCHOOL),
                                                      ("village", VILLAGE)]


def test_a_person_the_rules_cannot_price_today_is_named_and_left_out_of_the_total(world, settings):
    r = person("141102", "20100101", "071", name="吕梁学生", school="吕梁一中", today=date(2025, 11, 1))
    register(r, 2026, date(2025, 11, 1), via="school")
    n = notice_for(region="141100", region_name="吕梁市", year=2026, kind="school", collector="吕梁一中",
                   today=date(2026, 11, 20))  # the late period charges the fiscal subsidy, which 003 leaves unset
    [line] = n.lines
    assert (line.status, line.amount) == ("待缴费", None)
    assert line.note.startswith("今日无法计算应缴金额：") and "财政补助" in line.note
    assert (n.total, n.owing, n.unpriced) == (Decimal("0.00"), 0, 1)


@pytest.mark.parametrize("kind,collector,code,message", [
    ("bank", SCHOOL, "invalid_input", "请选择代收单位类型：学校或村（社区）委员会"),
    ("school", "  ", "invalid_input", "请填写学校名称"),
    ("school", "不存在的学校", "not_found", "宁波市2025 年度没有经不存在的学校登记或代收的参保人员"),
])
def test_bad_requests_are_refused_in_words(world, kind, collector, code, message):
    with pytest.raises(NoticeError) as err:
        notice_for(region="330200", region_name="宁波市", year=2025, kind=kind, collector=collector,
                   today=date(2024, 11, 20))
    assert (err.value.code, err.value.message) == (code, message)


URL = "/admin/payments/collector-notice/"


def test_the_page_starts_on_the_users_region_and_year_and_prints_the_list(client, world):
    client.force_login(caseworker("cw_notice", "330200"))
    resp = client.get(URL)
    assert resp.status_code == 200
    form = resp.context["form"]
    assert (form["region"].value(), form["year"].value(), form["kind"].value()) == ("330200", 2025, "school")
    html = resp.content.decode()
    assert f'<option value="{SCHOOL}">' in html  # the known collectors, offered as the name is typed
    resp = client.get(URL, {"region": "330200", "year": "2025", "kind": "school", "collector": SCHOOL})
    html = resp.content.decode()
    assert resp.status_code == 200
    assert '应缴合计 <strong id="notice-total">580.00</strong> 元' in html
    assert world["a"].id_number not in html and "330203********" in html
    assert 'id="notice-pdf"' in html
    pdf = client.get(resp.context["pdf_url"])
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf" and pdf.content[:4] == b"%PDF"
    # reachable from the menu
    assert f'href="{URL}"' in client.get("/admin/").content.decode()


def test_another_region_or_a_bad_choice_is_refused_in_chinese(client, world):
    client.force_login(caseworker("cw_notice_x", "630100"))
    resp = client.get(URL, {"region": "330200", "year": "2025", "kind": "school", "collector": SCHOOL})
    assert resp.status_code == 400
    assert "请选择您负责的参保地" in resp.content.decode() and "notice" not in resp.context
    resp = client.get(f"{URL}pdf/", {"region": "330200", "year": "2025", "kind": "school", "collector": SCHOOL})
    assert resp.status_code == 400 and resp["Content-Type"].startswith("text/html")
    client.force_login(caseworker("cw_notice_y", "330200"))
    resp = client.get(URL, {"region": "330200", "year": "2025", "kind": "school", "collector": "无此校"})
    assert resp.status_code == 400
    assert "宁波市2025 年度没有经无此校登记或代收的参保人员" in resp.content.decode()


def test_a_user_without_payments_may_not_open_it(client, world):
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create_user(username="nobody", password="x-Correct-42", is_staff=True)
    client.force_login(user)
    assert client.get(URL).status_code == 403
