"""Issue 13 in a real browser: a Xianyang caseworker opens a paid flexible-employment
enrollment in the admin, follows 打开缴费证明 (shown from the 5th day after payment), reads
the certificate with each part of the amount, and the public opens the verification URL
printed on it."""

from datetime import date
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission

from enrollment.tests.support import PASSWORD, caseworker, person
from flexible.services import flexible_enroll, flexible_record_payment

from .conftest import login
from .workbench import Watcher

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("policies")]

URL = "/admin/flexible/flexibleenrollment/"


def test_the_flexible_certificate_from_the_admin_record(page, live_server, settings):
    settings.BUSINESS_DATE = date(2024, 12, 20)
    wang = person("610402", "19700101", "001", name="王建国", today=date(2024, 12, 1))
    e = flexible_enroll(resident=wang, year=2025, person_status="in_service", file_held_at="reemployment_centre",
                        paid_previous_year=True, actor=None, today=date(2024, 12, 1))
    flexible_record_payment(enrollment=e, amount=Decimal("3676.80"), paid_on=date(2024, 12, 20),
                            channel="tax_hall", txn_id="SW-20241220-01", actor=None)
    user = caseworker("xy_cert_browser", "610400")
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="flexible"))
    watch = Watcher(page)
    login(page, live_server, "xy_cert_browser", PASSWORD)

    # before the 5th day: the record says when, and offers no link
    settings.BUSINESS_DATE = date(2024, 12, 24)
    page.goto(f"{live_server.url}{URL}{e.pk}/change/")
    assert "《社会保险费缴费证明》缴费 5 日后即 2024年12月25日 起可以打印" in page.inner_text("#content")
    assert page.locator("#certificate-link").count() == 0

    settings.BUSINESS_DATE = date(2024, 12, 25)
    page.goto(f"{live_server.url}{URL}{e.pk}/change/")
    page.click("#certificate-link")
    page.wait_for_url(f"**/admin/flexible/certificate/{e.pk}/")
    assert page.inner_text("h1.certificate-title") == "社会保险费缴费证明"
    assert page.inner_text("#cert-name") == "王建国"
    assert page.inner_text("#cert-id") == "610402********0017"
    assert page.inner_text("#cert-scheme") == "灵活就业人员医疗保险"
    assert page.inner_text("#cert-year") == "2025 年度"
    assert page.inner_text("#cert-part-basic") == "3456.00 元"
    assert page.inner_text("#cert-part-large-medical") == "172.80 元"
    assert page.inner_text("#cert-part-critical-illness") == "48.00 元"
    assert page.inner_text("#cert-amount") == "3676.80 元"
    assert page.inner_text("#cert-paid-on") == "2024-12-20"
    assert page.inner_text("#cert-channel") == "办税服务厅"
    assert page.inner_text("#cert-benefit") == "2025-01-01 至 2025-12-31"
    assert page.locator("img.certificate-qr").evaluate("i => i.naturalWidth") > 0  # the QR code drew
    code = page.inner_text("#cert-code")
    url = page.inner_text("#cert-url")
    assert url == f"{live_server.url}/verify/{code}"
    pdf = page.request.get(f'{live_server.url}{page.locator("#certificate-pdf").get_attribute("href")}')
    assert pdf.status == 200 and pdf.body().startswith(b"%PDF")
    watch.assert_clean()

    page.context.clear_cookies()  # the public: no login
    resp = page.goto(url)
    assert resp.status == 200
    assert page.inner_text("#verify-result") == "该缴费证明真实有效"
    assert page.inner_text("#verify-name") == "王**"
    assert page.inner_text("#verify-id") == "610***********0017"
    assert wang.id_number not in page.content()
