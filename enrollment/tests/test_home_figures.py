"""Issue 12, the home page: enrollment figures per region and year from a summary the engine
refreshes — exact counts, the user's regions only, and no count over the enrollment table per view."""

from datetime import date

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from enrollment.figures import figures_refresh
from enrollment.models import EnrollmentFigure
from enrollment.services import enrollment_cancel
from enrollment.tasks import refresh_enrollment_figures

from .support import caseworker, person, register, register_and_pay

pytestmark = pytest.mark.usefixtures("policies")

DAY = date(2024, 11, 1)


@pytest.fixture
def world(settings):
    settings.BUSINESS_DATE = date(2025, 3, 1)
    zhang = person("330203", "19800101", "017", name="张一", today=DAY)
    li = person("330203", "19810101", "028", name="李二", today=DAY)
    wang = person("330203", "19820101", "039", name="王三", today=DAY)
    xi = person("630102", "19800101", "051", name="西宁人", today=DAY)
    register_and_pay(zhang, 2025, DAY, date(2024, 11, 10), "780.00")
    register(li, 2025, DAY)
    enrollment_cancel(enrollment=register(wang, 2025, DAY), reason="户籍迁出", actor=None)
    register(xi, 2025, DAY)
    return {"zhang": zhang}


def test_the_refresh_counts_registered_and_paid_per_region_and_year(world):
    assert refresh_enrollment_figures() == 2
    got = {(f.region_id, f.year): (f.registered, f.paid) for f in EnrollmentFigure.objects.all()}
    assert got == {("330200", 2025): (2, 1), ("630100", 2025): (1, 0)}
    # run twice: the same rows, recounted
    assert figures_refresh() == 2
    assert EnrollmentFigure.objects.count() == 2


def test_the_home_page_shows_the_users_figures_without_counting_enrollments(client, world):
    figures_refresh()
    client.force_login(caseworker("cw_home", "330200"))
    with CaptureQueriesContext(connection) as queries:
        resp = client.get("/admin/")
    assert resp.status_code == 200
    assert not [q["sql"] for q in queries.captured_queries if "enrollment_enrollment\"" in q["sql"]
                or "FROM enrollment_enrollment " in q["sql"]]
    html = resp.content.decode()
    assert ('<tr><td>宁波市</td><td>2025</td><td class="num">2</td><td class="num">1</td>'
            '<td class="num">50.0%</td></tr>') in html
    assert "西宁市" not in html.split('id="enrollment-figures"')[1].split("</table>")[0]
    assert resp.context["chart_data"] == {"labels": ["宁波市 2025"], "registered": [2], "paid": [1]}
    assert 'id="enrollment-chart-data"' in html and "core/vendor/chart.umd.js" in html


def test_the_figures_download_as_a_spreadsheet(client, world):
    from io import BytesIO

    from openpyxl import load_workbook

    figures_refresh()
    client.force_login(caseworker("cw_home_xlsx", "330200"))
    assert 'href="/admin/figures.xlsx"' in client.get("/admin/").content.decode()
    resp = client.get("/admin/figures.xlsx")
    rows = list(load_workbook(BytesIO(resp.content)).active.iter_rows(values_only=True))
    assert rows == [("参保地", "待遇年度", "已登记", "已缴费", "缴费率"), ("宁波市", 2025, 2, 1, "50.0%")]


def test_the_beat_refreshes_the_figures(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["refresh-figures"]
    assert entry == {"task": "core.tasks.refresh_figures", "schedule": 300}
    assert "enrollment.figures.figures_refresh" in settings.FIGURE_REFRESHERS
