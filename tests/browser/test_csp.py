"""The admin in a real browser under the site's Content-Security-Policy: no violation is
reported on the pages a caseworker uses, and the admin's own scripts (date pickers,
select-all, the password toggle) still run."""

import pytest
from django.contrib.auth import get_user_model

from .conftest import login

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("policies")]

PAGES = ["/admin/", "/admin/enrollment/resident/", "/admin/enrollment/resident/add/",
         "/admin/enrollment/enrollment/", "/admin/auth/user/add/", "/admin/quote/",
         "/admin/core/batchrun/"]


def test_admin_pages_raise_no_csp_violation(page, live_server):
    get_user_model().objects.create_superuser("csp_browser", "c@example.org", "Csp-pass-12345")
    messages = []
    page.on("console", lambda m: messages.append(f"{page.url}: {m.text}"))
    login(page, live_server, "csp_browser", "Csp-pass-12345")
    for url in PAGES:
        resp = page.goto(f"{live_server.url}{url}")
        assert resp.status == 200, url
        assert "default-src 'self'" in resp.headers["content-security-policy"]
    # the calculator's styles come from a file now, not an inline <style> the policy blocks
    page.goto(f"{live_server.url}/admin/quote/")
    assert page.locator(".quote-grid").evaluate("e => getComputedStyle(e).display") == "grid"
    # the admin's own JavaScript runs: DateTimeShortcuts adds the 今天 link beside a date field
    page.goto(f"{live_server.url}/admin/enrollment/resident/add/")
    assert page.locator(".datetimeshortcuts").count() >= 1
    violations = [m for m in messages if "Content Security Policy" in m or "Refused to" in m]
    assert violations == []
