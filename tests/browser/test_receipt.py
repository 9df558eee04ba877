"""A caseworker opens a registration, follows 登记回执 and reads the printable receipt: plain
Chinese, the masked ID, the window to pay in, a PDF link, no console errors."""

from datetime import date

import pytest

from enrollment.tests.support import PASSWORD, caseworker, person, register

from .conftest import login
from .workbench import Watcher, assert_plain_chinese, shot, visible_text

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("policies")]


def test_the_registration_receipt(page, live_server, settings):
    settings.BUSINESS_DATE = date(2024, 11, 15)
    r = person("330203", "19800101", "017", name="张三", today=date(2024, 11, 15))
    e = register(r, 2025, date(2024, 11, 15), via="community")
    caseworker("nb_browser", "330200")
    watch = Watcher(page)
    login(page, live_server, "nb_browser", PASSWORD)

    page.goto(f"{live_server.url}/admin/enrollment/enrollment/{e.pk}/change/")
    page.click("#receipt-link")
    page.wait_for_url(f"**/admin/enrollment/receipt/{e.pk}/")
    assert page.inner_text("#receipt-name") == "张三"
    assert page.inner_text("#receipt-id") == r.id_number[:6] + "********" + r.id_number[-4:]
    assert page.inner_text("#receipt-due") == "780.00 元"
    assert page.inner_text("#receipt-via") == "社区登记"
    assert "集中缴费期：2024-10-21 至 2024-12-27" in page.inner_text("#receipt-periods")
    assert r.id_number not in page.content()
    assert_plain_chinese(visible_text(page))
    assert page.get_attribute("#receipt-pdf", "href") == f"/admin/enrollment/receipt/{e.pk}/pdf/"
    shot(page, "receipt")
    watch.assert_clean()
