"""Issue 12, item 6: the 批处理任务 pages in plain Chinese, and records that are never deleted
from the screens (batch runs, re-registration notices, employee-coverage records)."""

import re
from datetime import date

import pytest
from django.contrib.auth import get_user_model
from django.utils.html import strip_tags

from core.models import BatchRun
from enrollment.models import EmployeeCoverage, ReregistrationNotice
from enrollment.tests.support import caseworker, number, person

pytestmark = pytest.mark.usefixtures("policies")

RUNS = [
    ("renew_enrollments", {"region": "330200", "to_year": 2026, "today": "2025-11-03"},
     {"renewed": 3, "unchanged": 1, "reregister": {"permit_expired": 2}}),
    ("import_residents", {"file": "镇海区名单.csv", "regions": ["330200"]},
     {"created": 2, "updated": 1, "skipped": 0, "enrolled": 2, "failed": 1}),
    ("import_employee_coverage", {"file": "职工.csv", "regions": ["330200"]}, {"created": 1, "updated": 0}),
]


def content_text(resp) -> str:
    html = resp.content.decode()
    main = html[html.index('<div id="content"'):html.index('<footer')]
    return strip_tags(main)


@pytest.mark.parametrize("kind, params, summary", RUNS)
def test_a_batch_run_page_shows_no_code_or_json(client, kind, params, summary):
    boss = get_user_model().objects.create_superuser("boss_wb", password="x")
    client.force_login(boss)
    run = BatchRun.objects.create(kind=kind, status="done", params=params, summary=summary, created_by=boss,
                                  processed=4, succeeded=3, failed=1, total=4)
    text = content_text(client.get(f"/admin/core/batchrun/{run.pk}/change/"))
    assert "{" not in text and "[" not in text, text
    words = set(re.findall(r"[A-Za-z_]{3,}", text)) - {"XLSX", "boss_wb", "csv"}
    assert words == set(), (words, text)
    listing = content_text(client.get("/admin/core/batchrun/"))
    assert kind not in listing and "330200" not in listing
    assert "宁波市" in listing or params.get("file", "") in listing


def test_renewal_target_names_the_region(client):
    boss = get_user_model().objects.create_superuser("boss_wb2", password="x")
    client.force_login(boss)
    run = BatchRun.objects.create(kind="renew_enrollments", status="done",
                                  params={"region": "330200", "to_year": 2026, "today": "2025-11-03"},
                                  summary={"renewed": 3, "unchanged": 1, "reregister": {}})
    text = content_text(client.get(f"/admin/core/batchrun/{run.pk}/change/"))
    assert "宁波市 → 2026 年度" in text and f"默认续保 #{run.pk}" in text


def test_notices_and_employee_coverage_are_never_deleted_from_the_screens(client):
    user = caseworker("cw_nodelete", "330200")
    from django.contrib.auth.models import Permission

    for codename in ("delete_reregistrationnotice", "delete_employeecoverage"):
        user.user_permissions.add(Permission.objects.get(codename=codename))
    client.force_login(get_user_model().objects.get(pk=user.pk))
    zhang = person("330203", "19800101", "017", name="张一", today=date(2024, 11, 1))
    notice = ReregistrationNotice.objects.create(resident=zhang, region_id="330200", year=2026,
                                                 reason="permit_expired", detail="居住证已过期")
    cover = EmployeeCoverage.objects.create(id_number=number("330203", "19700101", "011"), name="职工",
                                            region_code="330200", year=2025)
    for url, obj in (("/admin/enrollment/reregistrationnotice/", notice),
                     ("/admin/enrollment/employeecoverage/", cover)):
        listing = client.get(url)
        assert listing.status_code == 200
        assert "delete_selected" not in listing.content.decode()
        assert client.get(f"{url}{obj.pk}/delete/").status_code == 403
        assert client.post(f"{url}{obj.pk}/delete/", {"post": "yes"}).status_code == 403
        resp = client.post(url, {"action": "delete_selected", "_selected_action": [obj.pk], "post": "yes"})
        assert resp.status_code in (200, 302)
    listing = client.get("/admin/enrollment/employeecoverage/").content.decode()
    assert '<td class="field-region_name">宁波市</td>' in listing
    assert ReregistrationNotice.objects.filter(pk=notice.pk).exists()
    assert EmployeeCoverage.objects.filter(pk=cover.pk).exists()
    assert client.post(f"/admin/core/batchrun/{BatchRun.objects.create(kind='renew_enrollments').pk}/delete/",
                       {"post": "yes"}).status_code == 403
