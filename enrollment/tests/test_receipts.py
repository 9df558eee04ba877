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
