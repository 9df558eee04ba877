"""A superuser opens 工作日日历 from the admin index and sees the years the bureau holds,
2026 among them, and 2026's National Day with its make-up Saturday."""

import pytest
from django.contrib.auth import get_user_model

from core.models import WorkdayCalendarYear
from core.workdays import seed_from_library

from .conftest import login

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "Correct-horse-42"


def test_the_superuser_sees_2026_in_the_workday_calendar(page, live_server):
    seed_from_library([2024, 2025, 2026], actor="test")  # what the migration wrote, after any flush
    get_user_model().objects.create_superuser("root", password=PASSWORD)
    login(page, live_server, "root", PASSWORD)

    # the link of the app list (the home page's recent operations also say 载入工作日日历)
    page.get_by_role("link", name="工作日日历", exact=True).first.click()
    page.wait_for_url("**/admin/core/workdaycalendaryear/")
    years = page.locator("#result_list tbody th a").all_inner_texts()
    assert years == ["2026", "2025", "2024"]
    row = page.locator("#result_list tbody tr").first.inner_text()
    assert "chinesecalendar 1.11.0" in row

    page.click("#result_list tbody th a >> text=2026")
    page.wait_for_url(f"**/admin/core/workdaycalendaryear/{WorkdayCalendarYear.objects.get(year=2026).pk}/change/")
    body = page.inner_text("body")
    assert "国庆节调休上班" in body and "2026-10-10" in body and "Traceback" not in body
