"""Every list that searches by ID number also takes a name prefix without failing: 零报销年度
searched for a ``name`` column it does not have (a 500 for ``?q=张``; hostile pass 2026-12-02)."""

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.urls import reverse

from enrollment.admin.common import IdSearchMixin

SEARCHED = sorted((m._meta.app_label, m._meta.model_name) for m, ma in admin.site._registry.items()
                  if isinstance(ma, IdSearchMixin))


def test_the_lists_are_found():
    assert ("enrollment", "zeroclaimyear") in SEARCHED and len(SEARCHED) >= 5


@pytest.mark.django_db
@pytest.mark.parametrize("app,model", SEARCHED)
@pytest.mark.parametrize("term", ["张", "'\"<", "x" * 300])
def test_a_name_or_nonsense_term_answers_the_list(client, app, model, term):
    user = get_user_model().objects.create_superuser("root", password="Correct-horse-42")
    client.force_login(user)
    resp = client.get(reverse(f"admin:{app}_{model}_changelist"), {"q": term})
    assert resp.status_code == 200


@pytest.mark.django_db
def test_a_zero_claim_year_is_found_by_the_residents_name(client):
    from django.utils import timezone

    from enrollment.models import ZeroClaimYear
    from enrollment.tests.support import person

    r = person("330203", "19800101", "011", name="张零报")
    ZeroClaimYear.objects.create(resident=r, id_number=r.id_number, year=2024, source="测试名单",
                                 recorded_at=timezone.now())
    user = get_user_model().objects.create_superuser("root", password="Correct-horse-42")
    client.force_login(user)
    url = reverse("admin:enrollment_zeroclaimyear_changelist")
    assert "张零报" in client.get(url, {"q": "张零"}).content.decode()
    assert "张零报" not in client.get(url, {"q": "李"}).content.decode()
