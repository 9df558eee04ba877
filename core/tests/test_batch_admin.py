"""The batch list: one query for the people who started the runs, not one per row (finding 6)."""

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.models import BatchRun

pytestmark = pytest.mark.django_db


def test_the_batch_list_does_not_query_per_row(client):
    User = get_user_model()
    boss = User.objects.create_superuser("boss", password="x")
    client.force_login(boss)
    starters = [User.objects.create_user(f"cw{i}", password="x") for i in range(5)]
    for i in range(40):
        BatchRun.objects.create(kind="renew_enrollments", scope=f"s{i}", status="done",
                                params={"region": "330200", "to_year": 2026},
                                created_by=starters[i % 5] if i % 3 else None)

    def page_queries():
        with CaptureQueriesContext(connection) as ctx:
            response = client.get("/admin/core/batchrun/")
        assert response.status_code == 200
        return len(ctx.captured_queries)

    few = page_queries()
    for i in range(40, 60):
        BatchRun.objects.create(kind="renew_enrollments", scope=f"t{i}", status="done",
                                params={"region": "141100", "to_year": 2027}, created_by=starters[i % 5])
    for i in range(60, 80):
        BatchRun.objects.create(kind="import_residents", status="done", params={"file": f"f{i}.csv"},
                                created_by=starters[i % 5])
    assert page_queries() == few  # twice the rows, the same queries
    content = client.get("/admin/core/batchrun/").content.decode()
    assert "默认续保" in content and "宁波市 → 2026 年度" in content and "cw1" in content


def test_a_county_caseworker_follows_the_city_renewal_that_renews_their_people(client):
    from django.contrib.auth.models import Group

    from accounts.models import StaffRegion
    from accounts.roles import CASEWORKER

    user = get_user_model().objects.create_user("xiaoyi", password="x", is_staff=True)
    user.groups.add(Group.objects.get(name=CASEWORKER))
    StaffRegion.objects.create(user=user, region_id="141181")
    city = BatchRun.objects.create(kind="renew_enrollments", scope="141100-2027", status="done",
                                   params={"region": "141100", "to_year": 2027})
    other = BatchRun.objects.create(kind="renew_enrollments", scope="330200-2027", status="done",
                                    params={"region": "330200", "to_year": 2027})
    client.force_login(user)
    assert client.get(f"/admin/core/batchrun/{city.pk}/change/").status_code == 200
    assert client.get(f"/admin/core/batchrun/{other.pk}/change/").status_code == 404
