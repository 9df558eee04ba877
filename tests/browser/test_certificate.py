"""A caseworker opens a paid enrollment, follows 缴费证明, reads the certificate, and a member
of the public opens the verification URL printed on it."""

from datetime import date, datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from enrollment.tests.support import PASSWORD, caseworker, clone, person, register
from payments.services import payment_record

from .conftest import login

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("policies")]


def test_the_certificate_page_and_its_verification(page, live_server, settings):
    settings.BUSINESS_DATE = date(2026, 12, 1)
    clone("141100", 2026, 2027)
    r = person("141102", "19800501", "001", name="张三")
    e = register(r, 2027, date(2026, 12, 1))
    payment_record(channel="wechat", txn_id="WX-BROWSER-1", id_number=r.id_number, name="张三", year=2027,
                   amount=Decimal("400.00"),
                   paid_at=datetime.combine(date(2026, 12, 21), time(10, 30), ZoneInfo("Asia/Shanghai")),
                   actor="test")
    settings.BUSINESS_DATE = date(2026, 12, 22)
    caseworker("lv_browser", "141100")
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    login(page, live_server, "lv_browser", PASSWORD)

    page.goto(f"{live_server.url}/admin/enrollment/enrollment/{e.pk}/change/")
    page.click("#certificate-link")
    page.wait_for_url(f"**/admin/payments/certificate/{e.pk}/")
    assert page.inner_text("#cert-name") == "张三"
    assert page.inner_text("#cert-id") == "141102********0010"
    assert page.inner_text("#cert-amount") == "400.00 元"
    assert page.inner_text("#cert-channel") == "微信"
    assert page.locator("img.certificate-qr").evaluate("i => i.naturalWidth") > 0  # the QR code drew
    code = page.inner_text("#cert-code")
    url = page.inner_text("#cert-url")
    assert url == f"{live_server.url}/verify/{code}"

    page.context.clear_cookies()  # the public: no login
    resp = page.goto(url)
    assert resp.status == 200
    assert page.inner_text("#verify-result") == "该缴费证明真实有效"
    assert page.inner_text("#verify-name") == "张*"
    assert page.inner_text("#verify-id") == "141***********0010"
    assert r.id_number not in page.content()

    page.fill("#code", "ABCD-EFGH-JKMN-PQRS-TVWX")
    page.click("button[type=submit]")
    assert "未找到该证明" in page.inner_text("#verify-result")
    assert [m for m in errors if "Content Security Policy" in m or "Refused" in m] == []
