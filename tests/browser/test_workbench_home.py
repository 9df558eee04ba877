"""Issue 12, the home page in the browser: the caseworker's enrollment figures as a Chart.js
chart (from the project's static files) with the same numbers in the table beside it."""

from datetime import date

import pytest

from enrollment.figures import figures_refresh
from enrollment.tests.support import PASSWORD, caseworker, person, register, register_and_pay

from .conftest import login
from .workbench import Watcher, assert_plain_chinese, shot

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("policies")]

DAY = date(2024, 11, 1)


def test_the_home_page_charts_the_users_figures(page, live_server, settings):
    settings.BUSINESS_DATE = date(2025, 3, 1)
    caseworker("nb_home", "330200")
    register_and_pay(person("330203", "19800101", "017", name="张一", today=DAY), 2025, DAY,
                     date(2024, 11, 10), "780.00")
    register(person("330203", "19810101", "028", name="李二", today=DAY), 2025, DAY)
    figures_refresh()
    watch = Watcher(page)
    login(page, live_server, "nb_home", PASSWORD)
    rows = page.locator("#enrollment-figures tbody tr").all_inner_texts()
    assert rows == ["宁波市\t2025\t2\t1\t50.0%"]
    # Chart.js drew the chart: a canvas with a size and a chart bound to it
    assert page.locator("#enrollment-chart").evaluate(
        "c => c.width > 0 && c.height > 0 && !!Chart.getChart(c)")
    assert page.evaluate("() => Chart.getChart(document.getElementById('enrollment-chart')).data.datasets"
                         ".map(d => [d.label, d.data])") == [["已登记", [2]], ["已缴费", [1]]]
    assert_plain_chinese(page.inner_text("#home-figures"))
    shot(page, "workbench-home")
    watch.assert_clean()
