"""Issue 12, the caseworker's workbench: what a caseworker sees on the enrollment screens —
plain Chinese, choices that can succeed, defaults from the user's regions and the business date."""

import re
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from core.models import BatchRun
from enrollment.idnumbers import mask
from enrollment.models import Enrollment, Resident
from enrollment.services import enrollment_record_payment

from .support import clone, caseworker, msgs, number, person, register, register_and_pay, today_is

pytestmark = pytest.mark.usefixtures("policies")

RESIDENTS = "/admin/enrollment/resident/"
ENROLLMENTS = "/admin/enrollment/enrollment/"
BUSINESS_DAY = date(2026, 11, 30)


@pytest.fixture
def business_day(settings):
    settings.BUSINESS_DATE = BUSINESS_DAY
    return BUSINESS_DAY


@pytest.fixture
def lueliang(client, business_day):
    user = caseworker("cw141", "141100", "141181")
    client.force_login(user)
    return user


def year_choices(resp) -> list[tuple[str, str]]:
    return [(str(v), str(label)) for v, label in resp.context["form"].fields["year"].choices]


# --- item 1: 登记参保 offers the published years, defaults to one, and says why in Chinese -------


def test_register_form_offers_only_what_can_succeed_and_says_why(client, lueliang):
    zhao = person("141102", "19800501", "011", name="赵一", today=BUSINESS_DAY)
    resp = client.post(RESIDENTS, {"action": "register_for_year", "_selected_action": [zhao.pk]})
    assert resp.status_code == 200
    # 吕梁 has published 2026 only (2027 has no policy); on the business date its window has
    # closed and the late period's fiscal subsidy is unset, so 2026 is withheld with the reason
    assert year_choices(resp) == []
    reason = "2026 年度暂不能登记：吕梁市 2026 年度“城乡居民”补缴时须一并缴纳的财政补助标准，来源文件未给出"
    assert resp.context["form"].fields["year"].help_text == reason
    assert reason in resp.content.decode()


def test_register_form_defaults_to_the_next_year_when_it_can_be_registered(client, lueliang):
    clone("141100", 2026, 2027)
    zhao = person("141102", "19800501", "011", name="赵一", today=BUSINESS_DAY)
    resp = client.post(RESIDENTS, {"action": "register_for_year", "_selected_action": [zhao.pk]})
    assert year_choices(resp) == [("2027", "2027 年度")]
    assert resp.context["form"]["year"].value() == 2027
    assert resp.context["form"].fields["year"].help_text == (
        "2026 年度暂不能登记：吕梁市 2026 年度“城乡居民”补缴时须一并缴纳的财政补助标准，来源文件未给出")


def test_a_published_year_that_nobody_selected_can_register_in_is_not_offered(client, business_day):
    client.force_login(caseworker("cw310", "310000"))
    wang = person("310101", "19800501", "011", name="王一", today=BUSINESS_DAY)
    resp = client.post(RESIDENTS, {"action": "register_for_year", "_selected_action": [wang.pk]})
    assert year_choices(resp) == []
    assert resp.context["form"].fields["year"].help_text == (
        "2027 年度暂不能登记：上海市 2027 年度“婴幼儿”、“成年居民”的出生日期区间（无法确定类别），来源文件未给出；"
        "2025 年度暂不能登记：2026-11-30 不在 上海市 2025 年度任何缴费期内")


def test_a_year_without_a_policy_is_refused_by_the_form(client, lueliang):
    zhao = person("141102", "19800501", "011", name="赵一", today=BUSINESS_DAY)
    resp = client.post(RESIDENTS, {"action": "register_for_year", "_selected_action": [zhao.pk],
                                   "apply": "1", "year": "2027", "registered_via": "community"})
    assert resp.status_code == 200
    assert resp.context["form"].errors["year"] == ["请选择所列的已发布政策年度"]
    assert not Enrollment.objects.exists()


def test_a_withheld_year_posted_anyway_is_refused_by_the_form(client, lueliang):
    zhao = person("141102", "19800501", "011", name="赵一", today=BUSINESS_DAY)
    resp = client.post(RESIDENTS, {"action": "register_for_year", "_selected_action": [zhao.pk],
                                   "apply": "1", "year": "2026", "registered_via": "community"})
    assert resp.status_code == 200
    assert resp.context["form"].errors["year"] == ["请选择所列的已发布政策年度"]
    assert "2026 年度暂不能登记：吕梁市 2026 年度“城乡居民”补缴时须一并缴纳的财政补助标准，来源文件未给出" \
        in resp.content.decode()
    assert not Enrollment.objects.exists()


# --- item 2: the birth date shows on the resident's page ----------------------------------------


def test_the_resident_page_shows_the_birth_date_in_its_date_input(client, lueliang):
    zhao = person("141102", "19800501", "011", name="赵一", today=BUSINESS_DAY)
    html = client.get(f"{RESIDENTS}{zhao.pk}/change/").content.decode()
    field = re.search(r'<input type="date" name="birth_date"[^>]*>', html).group(0)
    assert 'value="1980-05-01"' in field and "disabled" in field
    assert Resident.objects.get(pk=zhao.pk).birth_date == date(1980, 5, 1)


def test_the_add_form_takes_an_iso_birth_date(client, lueliang):
    number_ = number("141102", "19800501", "022")
    resp = client.post(f"{RESIDENTS}add/", {
        "id_number": number_, "birth_date": "1980-05-01", "name": "钱二", "region": "141100", "hukou": "local",
        "student": "", "school": "", "phone": "", "enrollments-TOTAL_FORMS": "0", "enrollments-INITIAL_FORMS": "0"})
    assert resp.status_code == 302, resp.context["adminform"].form.errors
    assert Resident.objects.get(id_number=number_).birth_date == date(1980, 5, 1)


# --- item 7: 参保登记 in words, and a cancellation that names whom it cancels --------------------


@pytest.fixture
def ningbo(client, business_day):
    user = caseworker("cw330wb", "330200")
    client.force_login(user)
    return user


def test_the_enrollment_list_names_the_timing_in_words(client, ningbo):
    zhang = person("330203", "19800101", "017", name="张一", today=date(2024, 11, 1))
    e = register_and_pay(zhang, 2025, date(2024, 11, 1), date(2024, 11, 10), "780.00")
    assert Enrollment.objects.get(pk=e.pk).timing == "window"
    resp = client.get(ENROLLMENTS)
    html = resp.content.decode()
    assert '<td class="field-timing_name">集中缴费期内</td>' in html
    filters = {spec.title: [str(choice["display"]) for choice in spec.choices(resp.context["cl"])]
               for spec in resp.context["cl"].filter_specs}
    assert filters["缴费时段"] == ["全部", "集中缴费期内", "补缴期", "集中缴费期外",
                                   "特殊群体（不受缴费期或等待期限制）", "新生儿（出生当年不缴费）"]
    assert [o.pk for o in client.get(ENROLLMENTS, {"timing": "window"}).context["cl"].result_list] == [e.pk]
    assert list(client.get(ENROLLMENTS, {"timing": "late"}).context["cl"].result_list) == []

    page = client.get(f"{ENROLLMENTS}{e.pk}/change/").content.decode()
    assert "集中缴费期内" in page and ">window<" not in page


def test_the_cancel_confirmation_names_the_person_and_the_id(client, ningbo):
    zhang = person("330203", "19800101", "017", name="张一", today=date(2024, 11, 1))
    e = register(zhang, 2025, date(2024, 11, 1))
    resp = client.post(ENROLLMENTS, {"action": "cancel_with_reason", "_selected_action": [e.pk]})
    html = resp.content.decode()
    assert f"<li>张一（{mask(zhang.id_number)}）2025 年度 成年居民（已登记（待缴费））</li>" in html
    assert Enrollment.objects.get(pk=e.pk).status == "registered"

    li = person("330203", "19810101", "028", name="李二", today=date(2024, 11, 1))
    paid = register_and_pay(li, 2025, date(2024, 11, 1), date(2024, 11, 10), "780.00")
    resp = client.post(ENROLLMENTS, {"action": "cancel_with_reason", "_selected_action": [e.pk, paid.pk],
                                     "apply": "1", "reason": "户籍迁出"})
    assert msgs(resp) == ["已注销 1 条登记",
                          f"李二（{mask(li.id_number)}）：2025 年度已缴费，不能直接注销，须办理退费"]
    assert {x.pk: x.status for x in Enrollment.objects.all()} == {e.pk: "cancelled", paid.pk: "paid"}


# --- item 8: messages without codes or repeated names; 导出 on the list, in Chinese ----------------


def test_register_refusal_does_not_repeat_the_name(client, ningbo, settings):
    settings.BUSINESS_DATE = date(2024, 11, 1)
    wu = person("330203", "19800101", "017", name="吴梓萱", today=date(2024, 11, 1))
    register(wu, 2025, date(2024, 11, 1))
    with today_is(date(2024, 11, 1)):
        resp = client.post(RESIDENTS, {"action": "register_for_year", "_selected_action": [wu.pk],
                                       "apply": "1", "year": "2025", "registered_via": "community"})
    assert msgs(resp) == [f"吴梓萱（{mask(wu.id_number)}）：已登记 2025 年度"]
    assert Enrollment.objects.filter(resident=wu).count() == 1


def test_renewal_messages_name_the_region(client, lueliang, django_capture_on_commit_callbacks):
    clone("141100", 2026, 2027)
    zhao = person("141102", "19800501", "011", name="赵一", today=date(2025, 11, 3))
    e = register_and_pay(zhao, 2026, date(2025, 11, 3), date(2025, 11, 20), "400.00")
    with django_capture_on_commit_callbacks(execute=False):
        resp = client.post(ENROLLMENTS, {"action": "start_default_renewal", "_selected_action": [e.pk]})
    run = BatchRun.objects.get()
    assert msgs(resp) == [f"已开始吕梁市 2027 年度默认续保（批处理任务 #{run.pk}）"]
    with django_capture_on_commit_callbacks(execute=False):
        resp = client.post(ENROLLMENTS, {"action": "start_default_renewal", "_selected_action": [e.pk]})
    assert msgs(resp)[-1] == f"吕梁市 2027 年度默认续保已在进行中（批处理任务 #{run.pk}）"
    assert BatchRun.objects.count() == 1


def test_a_county_caseworker_is_told_which_regions_renewal_covers(client, business_day,
                                                                  django_capture_on_commit_callbacks):
    clone("141100", 2026, 2027)
    xiaoyi = person("141181", "19850101", "011", name="孝义居民", today=date(2025, 11, 3))
    e = register_and_pay(xiaoyi, 2026, date(2025, 11, 3), date(2025, 11, 20), "400.00")
    client.force_login(caseworker("cw_xiaoyi_wb", "141181"))
    with django_capture_on_commit_callbacks(execute=False):
        resp = client.post(ENROLLMENTS, {"action": "start_default_renewal", "_selected_action": [e.pk]})
    assert msgs(resp) == ["吕梁市的默认续保包括吕梁市、孝义市，须由负责全部这些地区的人员发起"]
    assert not BatchRun.objects.exists()


def test_the_resident_list_offers_export_and_the_export_page_is_chinese(client, ningbo):
    html = client.get(RESIDENTS).content.decode()
    assert '/admin/enrollment/resident/export/?" class="export_link">导出</a>' in html
    assert "/admin/enrollment/resident/import/' class=\"import_link\">导入</a>" in html
    page = client.get(f"{RESIDENTS}export/").content.decode()
    assert "Select all" not in page and "全选" in page and "onchange=" not in page
    assert 'value="导出"' in page
    assert re.search(r'<label for="id_[A-Za-z_]*id_number">身份证号码</label>', page)
    assert "Id Number" not in page and "Name (" not in page


# --- item 4: the resident's 变更记录 in Chinese, local times ----------------------------------------


def test_the_resident_audit_trail_reads_in_chinese(client, ningbo):
    zhang = person("330203", "19800101", "017", name="张一", today=date(2024, 11, 1))
    e = register(zhang, 2025, date(2024, 11, 1))
    paid_at = datetime(2024, 11, 10, 13, 49, 21, tzinfo=ZoneInfo("UTC"))
    enrollment_record_payment(enrollment=e, amount=Decimal("780.00"), paid_on=date(2024, 11, 10),
                              paid_via="assistance", actor=ningbo, paid_at=paid_at)
    assert Enrollment.objects.get(pk=e.pk).paid_via == "assistance"
    html = client.get(f"{RESIDENTS}{zhang.pk}/change/").content.decode()
    trail = html[html.index("变更记录（谁、何时、改了什么）"):]
    trail = trail[:trail.index("</table>")]
    rows = re.findall(r"<tr><td>(.*?)</td><td>(.*?)</td><td>(.*?)</td><td>(.*?)</td><td>(.*?)</td><td>(.*?)</td></tr>",
                      trail)
    payment = [r for r in rows if r[1:5] == ("cw330wb", "参保登记", "修改", "记录缴费")]
    assert len(payment) == 1
    change = payment[0][5]
    assert "缴费方式：空 → 资助代缴" in change
    assert "到账时间：空 → 2024-11-10 21:49:21" in change  # 13:49 UTC is 21:49 in Shanghai
    assert "状态：已登记（待缴费） → 已缴费" in change
    for english in ("ResidentEvent", "EnrollmentEvent", "insert", "update", "paid_via", "+00:00",
                    "enrollment_record_payment"):
        assert english not in trail
    assert re.match(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$", payment[0][0])


EVENTS = "/admin/pghistory/events/"


def test_the_auditors_event_list_reads_in_chinese_and_finds_by_person_user_and_date(client, business_day):
    from .support import auditor

    zhang = person("330203", "19800101", "017", name="张一", today=date(2024, 11, 1))
    li = person("330203", "19810101", "028", name="李二", today=date(2024, 11, 1))
    cw = caseworker("cw_audit", "330200")
    e = register(zhang, 2025, date(2024, 11, 1))
    enrollment_record_payment(enrollment=e, amount=Decimal("780.00"), paid_on=date(2024, 11, 10),
                              paid_via="assistance", actor=cw)
    client.force_login(auditor("auditor_wb"))

    resp = client.get(EVENTS, {"q": zhang.id_number})
    html = resp.content.decode()
    assert "<h1>变更记录（审计）</h1>" in html
    for english in ("PGH", "Pgh", "pgh_diff", "Event model", "{&quot;", '{"'):
        assert english not in html, english
    headings = re.findall(r'<th scope="col"[^>]*>\s*<div class="text">(?:<a[^>]*>|<span>)(.*?)(?:</a>|</span>)', html)
    assert headings == ["时间", "操作人", "对象", "事件", "操作", "变化（前 → 后）"]
    objects = {str(o.pgh_obj_model) for o in resp.context["cl"].result_list}
    assert objects == {"enrollment.Resident", "enrollment.Enrollment"}
    assert all(str(o.pgh_obj_id) != str(li.pk) or o.pgh_obj_model != "enrollment.Resident"
               for o in resp.context["cl"].result_list)
    assert "缴费方式：空 → 资助代缴" in html and "<td class=\"field-who\">cw_audit</td>" in html

    by_name = client.get(EVENTS, {"q": "李二"}).context["cl"].result_list
    assert [(o.pgh_obj_model, str(o.pgh_obj_id), o.pgh_label) for o in by_name] == [
        ("enrollment.Resident", str(li.pk), "insert")]
    by_user = client.get(EVENTS, {"q": "cw_audit"}).context["cl"].result_list
    assert {o.pgh_context["username"] for o in by_user} == {"cw_audit"} and len(by_user) >= 1
    today = timezone.localdate().isoformat()
    assert len(client.get(EVENTS, {"q": today}).context["cl"].result_list) >= 3
    assert len(client.get(EVENTS, {"q": "2001-01-01"}).context["cl"].result_list) == 0


# --- item 5: the import page in plain Chinese, with a template and 跳过错误行 ----------------------


IMPORT_URL = "/admin/enrollment/resident/import/"


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


def csv_file(*rows) -> bytes:
    return ("姓名,身份证号码,户籍,居住证,学生类别,参保地\n" + "".join(",".join(r) + "\n" for r in rows)).encode()


def upload(client, data, **extra):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return client.post(IMPORT_URL, {"import_file": SimpleUploadedFile("名单.csv", data), "format": "0",
                                    "resource": "0", **extra})


def test_the_import_page_names_its_columns_in_chinese_and_offers_a_template(client, ningbo, media):
    html = client.get(IMPORT_URL).content.decode()
    assert "必填列：姓名、身份证号码、户籍、居住证、学生类别、参保地" in html
    assert "可选列：参保年度、登记方式" in html
    assert 'name="skip_invalid"' in html and "跳过错误行" in html
    for english in ("id_number", "residence_permit", "This importer", "Submit", "File to import"):
        assert english not in html
    resp = client.get("/admin/enrollment/resident/import/template.xlsx")
    from io import BytesIO

    from openpyxl import load_workbook

    rows = list(load_workbook(BytesIO(resp.content)).active.iter_rows(values_only=True))
    assert rows == [("姓名", "身份证号码", "户籍", "居住证", "学生类别", "参保地", "参保年度", "登记方式")]


def test_a_bad_row_is_shown_with_its_reasons_and_a_masked_id(client, ningbo, media):
    good = number("330203", "19800101", "017")
    bad = good[:17] + ("0" if good[17] != "0" else "1")
    html = upload(client, csv_file(["张一", good, "本地", "无", "", "330200"],
                                   ["", bad, "本地", "有", "", "330200"])).content.decode()
    assert "<h2>以下各行数据有错误</h2>" in html and "某些行" not in html
    assert "<li>身份证号码：第 3 行：身份证号码校验位不正确</li>" in html
    assert "validation-error-count" not in html  # reasons in the open, not behind a badge
    assert bad not in html and mask(bad) in html
    assert 'name="confirm"' not in html


def test_a_file_error_is_a_sentence_not_an_exception(client, ningbo, media):
    html = upload(client, "姓名,身份证号码\n张一,1\n".encode()).content.decode()
    assert "<h2>文件无法导入</h2>" in html and "缺少列：" in html
    assert "SpreadsheetError" not in html and "Traceback" not in html and "enrollment." not in html


def test_skip_invalid_imports_the_good_rows_and_reports_the_bad(client, ningbo, media):
    from core import batch

    good = number("330203", "19800101", "017")
    bad = good[:17] + ("0" if good[17] != "0" else "1")
    resp = upload(client, csv_file(["张一", good, "本地", "无", "", "330200"],
                                   ["李二", bad, "本地", "无", "", "330200"]), skip_invalid="on")
    confirm = resp.context["confirm_form"]
    assert confirm is not None and confirm.initial["skip_invalid"] is True
    html = resp.content.decode()
    assert "这些行将跳过，不导入" in html and 'name="confirm"' in html
    data = {k: v for k, v in confirm.initial.items()}
    data["confirm"] = "1"
    resp = client.post("/admin/enrollment/resident/process_import/", data)
    assert resp.status_code == 302
    run = BatchRun.objects.get()
    assert run.params["skip_invalid"] is True
    batch.run_inline(run)
    assert list(Resident.objects.values_list("id_number", flat=True)) == [good]
    run.refresh_from_db()
    assert "身份证号码校验位不正确" in run.report
