"""Issue 12, item 4 in the browser: an auditor finds a person's changes in 变更记录 by ID number,
in Chinese with local times, and the resident page's trail reads the same way."""

import re
from datetime import date
from decimal import Decimal

import pytest

from enrollment.services import enrollment_record_payment
from enrollment.tests.support import PASSWORD, auditor, caseworker, person, register

from .conftest import login
from .workbench import Watcher, assert_plain_chinese, shot

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("policies")]

DAY = date(2024, 11, 1)


def test_the_auditor_finds_a_persons_changes_in_chinese(page, live_server):
    cw = caseworker("nb_audit_cw", "330200")
    zhang = person("330203", "19800101", "017", name="张一", today=DAY)
    e = register(zhang, 2025, DAY)
    enrollment_record_payment(enrollment=e, amount=Decimal("780.00"), paid_on=date(2024, 11, 10),
                              paid_via="assistance", actor=cw)
    auditor("auditor_browser")
    watch = Watcher(page)
    login(page, live_server, "auditor_browser", PASSWORD)
    page.click("#content-main a:text-is('变更记录')")
    page.fill("#searchbar", zhang.id_number)
    page.press("#searchbar", "Enter")
    page.wait_for_selector("#result_list")
    headings = page.locator("#result_list thead th").all_inner_texts()
    assert [h.strip() for h in headings] == ["时间", "操作人", "对象", "事件", "操作", "变化（前 → 后）"]
    text = page.inner_text("#changelist")
    assert "缴费方式：空 → 资助代缴" in text and "nb_audit_cw" in text and "记录缴费" in text
    assert zhang.id_number not in page.inner_text("#result_list")
    times = page.locator("#result_list td.field-when").all_inner_texts()
    assert times and all(re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", t) for t in times)
    assert_plain_chinese(page.inner_text("#result_list"), allow=("nb_audit_cw",))
    shot(page, "workbench-audit-events")
    watch.assert_clean()
