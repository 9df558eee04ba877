"""资助资金报表 and the tax bureau's 特殊缴费标识 file, against a hand count of a
Lüliang 2026 population built through import_roster and the enrollment services."""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.urls import reverse
from openpyxl import load_workbook

from enrollment.services import enrollment_cancel, enrollment_record_payment
from enrollment.tests.support import auditor, caseworker, grant, number, person, register
from subsidies.reports import TAX_HEADER, assisted_people, funding_report
from subsidies.roster import import_roster

pytestmark = pytest.mark.usefixtures("policies")

NOV = date(2025, 11, 10)  # Lüliang's window is open (2025-10-21 … 2026-02-25)
PAY_DAY = date(2025, 11, 12)  # a day 1–25 of the month, in the window
HEADER = ["姓名", "身份证号码", "困难类别", "认定部门", "认定日期"]
D = Decimal


def roster(rows, *, region="141100"):
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(HEADER)
    w.writerows(rows)
    result = import_roster(out.getvalue().encode(), "名单.csv", region=region, year=2026, today=NOV,
                           actor="test")
    assert not result.rejected, result.errors
    return result


def pay(e):
    e.refresh_from_db()  # re-priced by the rosters
    return enrollment_record_payment(enrollment=e, amount=e.amount_due, paid_on=PAY_DAY, paid_via="channel",
                                     actor=None)


@pytest.fixture
def lvliang(db):
    """3 低保 (one in 孝义, unpaid), 2 特困 (one named like a formula), 1 残疾人, 1 返贫致贫,
    one person on two rosters (低保 320 and 返贫致贫 360: 360 wins), plus a cancelled 低保,
    a 特困 not registered and an unassisted resident; a 孝义 低保 on the county's roster."""
    p = {
        "dibao1": person("141102", "19800101", "011", name="低保甲"),
        "dibao2": person("141102", "19800202", "021", name="低保乙"),
        "dibao3": person("141181", "19800303", "031", name="低保丙"),  # 孝义 resident
        "tekun1": person("141102", "19500101", "041", name="特困甲"),
        "tekun2": person("141102", "19500202", "051", name="=HYPERLINK(\"x\")"),
        "disabled": person("141102", "19700101", "061", name="残疾甲"),
        "poverty": person("141102", "19600101", "071", name="返贫甲"),
        "both": person("141102", "19650101", "081", name="两单乙"),
        "cancelled": person("141102", "19850101", "091", name="注销丁"),
        "plain": person("141102", "19900101", "101", name="普通戊"),
    }
    e = {key: register(r, 2026, NOV) for key, r in p.items()}
    not_registered = number("141102", "19400101", "111")
    roster([[p["dibao1"].name, p["dibao1"].id_number, "低保对象", "吕梁市民政局", "2025-06-01"],
            [p["dibao2"].name, p["dibao2"].id_number, "低保", "吕梁市民政局", "2025-06-01"],
            [p["both"].name, p["both"].id_number, "低保对象", "吕梁市民政局", "2025-06-01"],
            [p["cancelled"].name, p["cancelled"].id_number, "低保对象", "吕梁市民政局", "2025-06-01"],
            [p["tekun1"].name, p["tekun1"].id_number, "特困人员", "吕梁市民政局", "2025-05-01"],
            [p["tekun2"].name, p["tekun2"].id_number, "特困供养人员", "吕梁市民政局", "2025-05-01"],
            ["未登记", not_registered, "特困人员", "吕梁市民政局", "2025-05-01"]])
    roster([[p["dibao3"].name, p["dibao3"].id_number, "低保对象", "孝义市民政局", "2025-06-01"]],
           region="141181")
    roster([[p["poverty"].name, p["poverty"].id_number, "返贫致贫人口", "乡村振兴发展中心", "2025-07-01"],
            [p["both"].name, p["both"].id_number, "返贫致贫人口", "乡村振兴发展中心", "2025-07-01"]])
    roster([[p["disabled"].name, p["disabled"].id_number, "持第二代残疾人证", "吕梁市残疾人联合会",
             "2025-09-01"]])
    for key in ("dibao1", "dibao2", "tekun1", "disabled", "both"):
        e[key] = pay(e[key])
    e["cancelled"] = enrollment_cancel(enrollment=e["cancelled"], reason="迁出", actor=None)
    for value in e.values():
        value.refresh_from_db()
    return {"people": p, "enrollments": e, "not_registered": not_registered}


def test_the_population_is_priced_as_the_policy_says(lvliang):
    e = lvliang["enrollments"]
    got = {k: (v.assistance_identity, v.assistance_amount, v.amount_due, v.status) for k, v in e.items()}
    assert got == {
        "dibao1": ("dibao", D("320.00"), D("80.00"), "paid"),
        "dibao2": ("dibao", D("320.00"), D("80.00"), "paid"),
        "dibao3": ("dibao", D("320.00"), D("80.00"), "registered"),
        "tekun1": ("tekun", D("400.00"), D("0.00"), "paid"),
        "tekun2": ("tekun", D("400.00"), D("0.00"), "registered"),
        "disabled": ("disabled_certified", D("400.00"), D("0.00"), "paid"),
        "poverty": ("returned_poverty", D("360.00"), D("40.00"), "registered"),
        "both": ("returned_poverty", D("360.00"), D("40.00"), "paid"),  # 360 beats 低保 320
        "cancelled": ("dibao", D("320.00"), D("80.00"), "cancelled"),
        "plain": ("", None, D("400.00"), "registered"),
    }


def test_funding_report_totals_match_a_hand_count(lvliang):
    report = funding_report("141100", 2026)
    assert report.members == ["141100", "141181"]
    rows = [(r.identity, r.funding_source, r.kind_name, r.people, r.assistance, r.self_pay, r.paid_people,
             r.paid_assistance, r.unpaid_people, r.unpaid_assistance) for r in report.identities]
    assert rows == [
        # tier order of the policy: 特困, 低保, 返贫致贫, 残疾人
        ("tekun", "医疗救助资金", "定额资助", 2, D("800.00"), D("0.00"), 1, D("400.00"), 1, D("400.00")),
        ("dibao", "医疗救助资金", "定额资助", 3, D("960.00"), D("240.00"), 2, D("640.00"), 1, D("320.00")),
        ("returned_poverty", "医疗救助资金", "定额资助", 2, D("720.00"), D("80.00"), 1, D("360.00"), 1,
         D("360.00")),
        ("disabled_certified", "财政（残联申请）", "定额资助", 1, D("400.00"), D("0.00"), 1, D("400.00"), 0,
         D("0.00")),
    ]
    # 医疗救助资金: 2×400 + 3×320 + 2×360 = 2480.00 for 7 people; 残联: 1×400
    assert [(s.funding_source, s.people, s.assistance) for s in report.sources] == [
        ("医疗救助资金", 7, D("2480.00")), ("财政（残联申请）", 1, D("400.00"))]
    t = report.total
    assert (t.people, t.assistance, t.self_pay, t.paid_people, t.paid_assistance, t.unpaid_people,
            t.unpaid_assistance) == (8, D("2880.00"), D("320.00"), 5, D("1800.00"), 3, D("1080.00"))
    # pending: the 特困 never registered, and the 低保 whose enrollment was cancelled
    assert [(p.identity, p.people) for p in report.pending] == [("tekun", 1), ("dibao", 1)]


def test_a_county_report_covers_only_the_county(lvliang):
    report = funding_report("141181", 2026)
    assert report.members == ["141181"]
    assert [(r.identity, r.people, r.assistance) for r in report.identities] == [("dibao", 1, D("320.00"))]
    assert report.pending == []
    assert [p.name for p in assisted_people("141181", 2026)] == ["低保丙"]


def test_assisted_people_one_row_per_enrollment_not_cancelled(lvliang):
    p = lvliang["people"]
    rows = {r.id_number: (r.name, r.region, r.year, r.identity, r.personal_standard, r.assistance, r.amount_due,
                          r.status) for r in assisted_people("141100", 2026)}
    assert len(rows) == 8
    assert rows[p["dibao3"].id_number] == ("低保丙", "141181", 2026, "dibao", D("400.00"), D("320.00"),
                                           D("80.00"), "registered")
    assert rows[p["both"].id_number] == ("两单乙", "141100", 2026, "returned_poverty", D("400.00"),
                                         D("360.00"), D("40.00"), "paid")
    assert p["cancelled"].id_number not in rows and p["plain"].id_number not in rows


def expected_tax_rows(p) -> list[list[str]]:
    def row(key, region, identity, assistance, due, flag, source):
        r = p[key]
        return [r.id_number, r.name, region, "2026", identity, "定额资助", "400.00", assistance, due, flag, source]

    rows = [row("dibao1", "141100", "低保对象", "320.00", "80.00", "2", "医疗救助资金"),
            row("dibao2", "141100", "低保对象", "320.00", "80.00", "2", "医疗救助资金"),
            row("tekun1", "141100", "特困人员", "400.00", "0.00", "1", "医疗救助资金"),
            row("tekun2", "141100", "特困人员", "400.00", "0.00", "1", "医疗救助资金"),
            row("disabled", "141100", "持第二代残疾人证人员", "400.00", "0.00", "1", "财政（残联申请）"),
            row("poverty", "141100", "返贫致贫人口", "360.00", "40.00", "2", "医疗救助资金"),
            row("both", "141100", "返贫致贫人口", "360.00", "40.00", "2", "医疗救助资金"),
            row("dibao3", "141181", "低保对象", "320.00", "80.00", "2", "医疗救助资金")]
    rows.sort(key=lambda r: (r[2], r[0]))
    for r in rows:
        if r[1].startswith("="):
            r[1] = "'" + r[1]  # neutralised: stays text in a spreadsheet
    return rows


def test_export_tax_flags_writes_the_documented_csv(lvliang, tmp_path):
    out = tmp_path / "flags.csv"
    call_command("export_tax_flags", region="141100", year=2026, output=str(out), stderr=io.StringIO())
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    lines = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    assert lines[0] == TAX_HEADER == ["身份证号码", "姓名", "参保地", "待遇年度", "资助类别", "资助类型",
                                      "个人缴费标准", "资助金额", "个人应缴金额", "特殊缴费标识", "资金来源"]
    assert lines[1:] == expected_tax_rows(lvliang["people"])
    assert "'=HYPERLINK(\"x\")" in [cell for line in lines for cell in line]
    assert not any(cell.startswith(("=", "+", "-", "@")) for line in lines for cell in line)
    assert b"\r\n" in raw


def test_export_tax_flags_to_standard_output(lvliang):
    out = io.StringIO()
    call_command("export_tax_flags", region="141181", year=2026, stdout=out)
    text = out.getvalue()
    assert text.startswith("\ufeff")
    lines = list(csv.reader(io.StringIO(text[1:], newline="")))
    assert lines == [TAX_HEADER, [lvliang["people"]["dibao3"].id_number, "低保丙", "141181", "2026", "低保对象",
                                  "定额资助", "400.00", "320.00", "80.00", "2", "医疗救助资金"]]


def test_assistance_report_prints_json_and_writes_the_workbook(lvliang, tmp_path):
    out = io.StringIO()
    book = tmp_path / "report.xlsx"
    call_command("assistance_report", region="141100", year=2026, xlsx=str(book), stdout=out)
    data = json.loads(out.getvalue())
    assert (data["region"], data["year"], data["regions"]) == ("141100", 2026, ["141100", "141181"])
    assert data["total"] == {"people": 8, "assistance": "2880.00", "self_pay": "320.00", "paid_people": 5,
                             "paid_assistance": "1800.00", "unpaid_people": 3, "unpaid_assistance": "1080.00"}
    assert data["by_identity"][1] == {
        "identity": "dibao", "name": "低保对象", "funding_source": "医疗救助资金", "kind_name": "定额资助",
        "people": 3, "assistance": "960.00", "self_pay": "240.00", "paid_people": 2,
        "paid_assistance": "640.00", "unpaid_people": 1, "unpaid_assistance": "320.00"}
    assert data["by_funding_source"] == [
        {"funding_source": "医疗救助资金", "people": 7, "assistance": "2480.00"},
        {"funding_source": "财政（残联申请）", "people": 1, "assistance": "400.00"}]
    assert data["pending"] == [{"identity": "tekun", "name": "特困人员", "people": 1},
                               {"identity": "dibao", "name": "低保对象", "people": 1}]
    assert data["pending_people"] == 2

    wb = load_workbook(book)
    assert wb.sheetnames == ["按资助身份", "按资金来源", "资助人员名单"]

    def cells(name):
        return [[(D(str(v)).quantize(D("0.01")) if isinstance(v, float) else v) for v in row]
                for row in wb[name].iter_rows(values_only=True)]

    by_identity = cells("按资助身份")
    assert by_identity[0] == ["资助身份", "资金来源", "资助类型", "人数", "资助金额合计", "个人应缴合计",
                              "已缴费人数", "已缴费资助金额", "待缴费人数", "待缴费资助金额"]
    assert [r[0] for r in by_identity[1:]] == ["特困人员", "低保对象", "返贫致贫人口", "持第二代残疾人证人员", "合计"]
    assert [D(str(r[4])) for r in by_identity[1:]] == [D("800"), D("960"), D("720"), D("400"), D("2880")]
    assert by_identity[-1][3] == 8
    assert cells("按资金来源") == [["资金来源", "人数", "资助金额合计"], ["医疗救助资金", 7, 2480],
                                   ["财政（残联申请）", 1, 400], ["合计", 8, 2880]]
    people = cells("资助人员名单")
    assert people[0] == ["身份证号码", "姓名", "参保地", "待遇年度", "资助身份", "资助类型", "资金来源",
                         "个人缴费标准", "资助金额", "个人应缴金额", "状态"]
    assert len(people) == 9
    tekun2 = lvliang["people"]["tekun2"]
    row = next(r for r in people if r[0] == tekun2.id_number)
    assert row[1:5] == ["'=HYPERLINK(\"x\")", "141100", 2026, "特困人员"]
    assert wb["资助人员名单"]["B1"].data_type == "s"
    assert all(c.data_type != "f" for r in wb["资助人员名单"].iter_rows() for c in r)


def test_commands_refuse_an_unknown_region_and_a_year_without_policy(db, tmp_path):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="未知地区"):
        call_command("assistance_report", region="999999", year=2026, stdout=io.StringIO())
    with pytest.raises(CommandError, match="没有已发布的政策"):
        call_command("export_tax_flags", region="141100", year=2031, output=str(tmp_path / "f.csv"))
    assert not (tmp_path / "f.csv").exists()


def test_xining_full_and_percentage_tiers_without_a_funding_source(db, tmp_path):
    """Xining 2025: 特困 full (全额资助, pays 0, flag 1), 低保 50 % of 400 (按比例资助, flag 2);
    the source names no funding source: 来源文件未给出."""
    oct_ = date(2024, 10, 10)
    tekun = person("630102", "19500101", "011", name="特困甲", today=oct_)
    dibao = person("630102", "19800101", "021", name="低保乙", today=oct_)
    for r in (tekun, dibao):
        register(r, 2025, oct_)
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows([HEADER, [tekun.name, tekun.id_number, "特困供养人员",
                                                                "西宁市民政局", "2024-06-01"],
                                                       [dibao.name, dibao.id_number, "低保对象", "西宁市民政局",
                                                        "2024-06-01"]])
    result = import_roster(out.getvalue().encode(), "名单.csv", region="630100", year=2025, today=oct_,
                           actor="test")
    assert not result.rejected, result.errors
    report = funding_report("630100", 2025)
    assert [(r.identity, r.kind_name, r.funding_source, r.people, r.assistance, r.self_pay)
            for r in report.identities] == [
        ("tekun", "全额资助", "来源文件未给出", 1, D("400.00"), D("0.00")),
        ("dibao", "按比例资助", "来源文件未给出", 1, D("200.00"), D("200.00"))]
    assert [(s.funding_source, s.people, s.assistance) for s in report.sources] == [
        ("来源文件未给出", 2, D("600.00"))]
    file = tmp_path / "xining.csv"
    call_command("export_tax_flags", region="630100", year=2025, output=str(file), stderr=io.StringIO())
    lines = list(csv.reader(io.StringIO(file.read_text(encoding="utf-8-sig"), newline="")))
    assert sorted(lines[1:]) == sorted([
        [tekun.id_number, "特困甲", "630100", "2025", "特困人员", "全额资助", "400.00", "400.00", "0.00", "1",
         "来源文件未给出"],
        [dibao.id_number, "低保乙", "630100", "2025", "低保对象", "按比例资助", "400.00", "200.00", "200.00",
         "2", "来源文件未给出"]])


# --- the admin page --------------------------------------------------------------------------

URL = "/admin/subsidies/report/"


def test_the_page_is_linked_under_assistance_on_the_index(lvliang, client):
    client.force_login(caseworker("lvliang_cw", "141100"))
    resp = client.get(reverse("admin:index"))
    assert reverse("admin:subsidies_report") == URL
    assert "资助资金报表" in resp.content.decode() and URL in resp.content.decode()


def test_a_caseworker_sees_their_regions_figures_and_downloads(lvliang, client):
    user = caseworker("lvliang_cw", "141100", "141181")
    client.force_login(user)
    resp = client.get(URL, {"year": 2026})
    assert resp.status_code == 200
    page = resp.content.decode()
    assert resp.context["report"].region == "141100"  # the first of their regions
    assert "统计范围：吕梁市（141100）、孝义市（141181）" in page
    assert "低保对象" in page and "960.00" in page and "2880.00" in page and "财政（残联申请）" in page
    xlsx = client.get(reverse("admin:subsidies_report_xlsx"), {"region": "141100", "year": 2026})
    assert xlsx.status_code == 200
    sheet = load_workbook(io.BytesIO(xlsx.content))["资助人员名单"]
    numbers = [r[0] for r in sheet.iter_rows(min_row=2, values_only=True)]
    assert len(numbers) == 8 and all("*" in n for n in numbers)  # masked: no full-ID permission
    # the tax hand-over: caseworkers hold its own permission (export_tax_flags), logged per download
    csv_resp = client.get(reverse("admin:subsidies_report_csv"), {"region": "141100", "year": 2026})
    assert csv_resp.status_code == 200
    lines = list(csv.reader(io.StringIO(csv_resp.content.decode("utf-8-sig"), newline="")))
    assert lines == [TAX_HEADER, *expected_tax_rows(lvliang["people"])]


def test_the_default_year_is_the_latest_published_for_the_region(lvliang, client, settings):
    settings.BUSINESS_DATE = date(2025, 11, 10)  # 2025 has no Lüliang policy: the latest, 2026
    client.force_login(caseworker("lvliang_cw", "141100"))
    resp = client.get(URL)
    assert resp.context["report"].year == 2026 and "960.00" in resp.content.decode()


def test_a_ningbo_caseworker_gets_no_lvliang_figures(lvliang, client):
    client.force_login(caseworker("ningbo_cw", "330200"))
    resp = client.get(URL)
    assert resp.status_code == 200
    assert resp.context["report"].region == "330200"
    page = resp.content.decode()
    assert "141100" not in page and "960.00" not in page and "吕梁" not in page
    for name in ("admin:subsidies_report", "admin:subsidies_report_xlsx", "admin:subsidies_report_csv"):
        assert client.get(reverse(name), {"region": "141100", "year": 2026}).status_code == 403


def test_an_auditor_sees_every_region_and_a_user_without_permission_sees_nothing(lvliang, client):
    client.force_login(auditor())
    resp = client.get(URL, {"region": "141100", "year": 2026})
    assert resp.status_code == 200 and "2880.00" in resp.content.decode()
    from django.contrib.auth import get_user_model

    clerk = get_user_model().objects.create_user(username="clerk", password="x", is_staff=True)
    client.force_login(clerk)
    assert client.get(URL, {"region": "141100", "year": 2026}).status_code == 403
    assert "资助资金报表" not in client.get(reverse("admin:index")).content.decode()


def test_the_tax_file_needs_its_permission(lvliang, client):
    from django.contrib.auth import get_user_model
    from accounts.models import StaffRegion

    clerk = get_user_model().objects.create_user("clerk", password="x-Pass-2026", is_staff=True)
    StaffRegion.objects.create(user=clerk, region_id="141100")
    clerk = grant(clerk, "view_assistanceidentity")
    client.force_login(clerk)
    assert client.get(URL, {"region": "141100", "year": 2026}).status_code == 200
    assert client.get(reverse("admin:subsidies_report_csv"), {"region": "141100", "year": 2026}
                      ).status_code == 403
    clerk = grant(clerk, "export_tax_flags")
    client.force_login(clerk)
    assert client.get(reverse("admin:subsidies_report_csv"), {"region": "141100", "year": 2026}
                      ).status_code == 200
