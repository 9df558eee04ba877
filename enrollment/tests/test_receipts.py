"""参保登记回执: the printable page and PDF of a registration — exact fields, masked ID,
region scoping, a cancelled registration refused, the link on the enrollment page."""

from __future__ import annotations

import re
from datetime import date

import pytest

from enrollment.services import enrollment_cancel

from .support import caseworker, person, register

pytestmark = pytest.mark.usefixtures("policies")
DAY = date(2024, 11, 15)  # inside Ningbo's 2025 window


@pytest.fixture
def ningbo(db):
    return caseworker("nb", "330200")


@pytest.fixture
def zhang(settings):
    settings.BUSINESS_DATE = DAY
    r = person("330203", "19800101", "017", name="张三", today=DAY)
    return register(r, 2025, DAY, via="school")


def field(html: str, ident: str) -> str:
    m = re.search(rf'id="{ident}"[^>]*>(.*?)</td>', html, re.S)
    assert m, ident
    return re.sub(r"<[^>]+>", "", m.group(1)).strip()


def test_the_receipt_shows_the_exact_fields(client, zhang, ningbo):
    client.force_login(ningbo)
    resp = client.get(f"/admin/enrollment/receipt/{zhang.pk}/")
    assert resp.status_code == 200
    html = resp.content.decode()
    keys = ("name", "id", "region", "year", "category", "via", "at", "by", "due", "status", "periods", "issued")
    got = {k: field(html, f"receipt-{k}") for k in keys}
    number = zhang.resident.id_number
    assert got == {
        "name": "张三", "id": number[:6] + "********" + number[-4:], "region": "宁波市", "year": "2025 年度",
        "category": "成年居民", "via": "学校集中登记", "at": got["at"], "by": "系统（批量登记或接口）",
        "due": "780.00 元", "status": "已登记（待缴费）",
        "periods": got["periods"], "issued": "2024-11-15"}
    assert got["at"].startswith("2024-11-15 ")  # the business date, Beijing time
    assert "2024-10-21 至 2024-12-27" in got["periods"]  # Ningbo's window for 2025
    assert number not in html
    assert f"/admin/enrollment/receipt/{zhang.pk}/pdf/" in html


def test_the_pdf_is_a_pdf_without_the_full_id(client, zhang, ningbo):
    client.force_login(ningbo)
    resp = client.get(f"/admin/enrollment/receipt/{zhang.pk}/pdf/")
    assert resp.status_code == 200 and resp["Content-Type"] == "application/pdf"
    assert resp.content.startswith(b"%PDF-") and len(resp.content) > 5000
    assert zhang.resident.id_number.encode() not in resp.content


def test_another_regions_caseworker_gets_404(client, zhang):
    client.force_login(caseworker("lv", "141100"))
    assert client.get(f"/admin/enrollment/receipt/{zhang.pk}/").status_code == 404
    assert client.get(f"/admin/enrollment/receipt/{zhang.pk}/pdf/").status_code == 404
    assert client.get("/admin/enrollment/receipt/999999/").status_code == 404


def test_a_cancelled_registration_has_no_receipt(client, zhang, ningbo):
    enrollment_cancel(enrollment=zhang, reason="重复登记", actor=ningbo)
    client.force_login(ningbo)
    resp = client.get(f"/admin/enrollment/receipt/{zhang.pk}/")
    assert resp.status_code == 409
    assert "已于 2024-11-15 注销，不能开具登记回执" in resp.content.decode()
    assert client.get(f"/admin/enrollment/receipt/{zhang.pk}/pdf/").status_code == 409
    page = client.get(f"/admin/enrollment/enrollment/{zhang.pk}/change/").content.decode()
    assert "receipt-link" not in page


def test_the_enrollment_page_links_to_the_receipt(client, zhang, ningbo):
    client.force_login(ningbo)
    page = client.get(f"/admin/enrollment/enrollment/{zhang.pk}/change/").content.decode()
    assert f'href="/admin/enrollment/receipt/{zhang.pk}/"' in page and "登记回执" in page


# --- 重新登记通知书 ------------------------------------------------------------------------------


@pytest.fixture
def notices(settings):
    from enrollment.models import ReregistrationNotice

    settings.BUSINESS_DATE = date(2024, 10, 25)
    a = person("330203", "19800101", "017", name="张三", today=DAY, hukou="nonlocal", residence_permit=True)
    b = person("330203", "19900101", "027", name="李四", today=DAY)
    c = person("141102", "19700101", "031", name="王五", today=date(2025, 11, 1))
    return [ReregistrationNotice.objects.create(resident=a, region_id="330200", year=2025, reason="permit_expired",
                                                detail="居住证 2024-09-30 到期"),
            ReregistrationNotice.objects.create(resident=b, region_id="330200", year=2025, reason="not_eligible"),
            ReregistrationNotice.objects.create(resident=c, region_id="141100", year=2027, reason="graduated")]


def test_notices_print_one_letter_each_with_what_to_bring(client, notices, ningbo):
    a, b, c = notices
    client.force_login(ningbo)
    resp = client.get(f"/admin/enrollment/notices/print/?ids={b.pk},{a.pk}")
    assert resp.status_code == 200
    html = resp.content.decode()
    letters = re.findall(r'<div class="certificate notice" id="notice-(\d+)">(.*?)</div>', html, re.S)
    assert [int(i) for i, _ in letters] == [a.pk, b.pk]  # by name within the region
    text = re.sub(r"<[^>]+>", "", letters[0][1])
    assert "张三（身份证号码 330203********" in text
    assert "您的 2025 年度宁波市城乡居民基本医疗保险未能按上一年度自动续保，原因：外地户籍居住证失效（居住证 2024-09-30 到期）。" in text
    assert "请在缴费期内携带居民身份证或户口簿，以及在有效期内的居住证，到参保地" in text
    assert "集中缴费期 2024-10-21 至 2024-12-27" in text and "2024-10-25" in text
    assert a.resident.id_number not in html
    pdf = client.get(f"/admin/enrollment/notices/print/pdf/?ids={a.pk},{b.pk}")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")


def test_notices_of_another_region_or_bad_ids_are_refused(client, notices, ningbo):
    a, b, c = notices
    client.force_login(ningbo)
    assert client.get(f"/admin/enrollment/notices/print/?ids={a.pk},{c.pk}").status_code == 404
    for bad in ("", "x", "1;2", ",".join(str(i) for i in range(1, 502))):
        resp = client.get(f"/admin/enrollment/notices/print/?ids={bad}")
        assert resp.status_code == 400
        assert "请在“须重新登记人员”列表中勾选要打印的人员" in resp.content.decode()


def test_the_notice_list_prints_the_selected(client, notices, ningbo):
    a, b, c = notices
    client.force_login(ningbo)
    resp = client.post("/admin/enrollment/reregistrationnotice/",
                       {"action": "print_notices", "_selected_action": [a.pk, b.pk]})
    assert resp.status_code == 302
    assert resp["Location"] == f"/admin/enrollment/notices/print/?ids={a.pk},{b.pk}"
