"""The December batch's run page links its own pages; those pages keep to the user's regions."""

import pytest
from django.urls import reverse
from django.utils import timezone

from core.models import BatchRun
from enrollment.tests.support import caseworker

pytestmark = pytest.mark.usefixtures("policies")


@pytest.fixture
def run():
    return BatchRun.objects.create(
        kind="pool_batch", scope="310000-2025", params={"region": "310000", "year": 2025},
        status=BatchRun.Status.DONE, finished_at=timezone.now(),
        summary={"deducted": 0, "amount": "0.00", "skipped_already_paid": 0, "insufficient_balance": 0,
                 "failed": 0, "already_deducted": 0})


def test_the_run_page_links_the_shortfalls_and_the_remittance_file(client, run):
    client.force_login(caseworker("cw310", "310000"))
    page = client.get(reverse("admin:core_batchrun_change", args=[run.pk]))
    assert page.status_code == 200
    shortfalls = reverse("admin:family_pool_pool_batch", args=[run.pk])
    remittance = reverse("admin:family_pool_pool_batch_remittance", args=[run.pk])
    body = page.content.decode()
    assert f'href="{shortfalls}"' in body and f'href="{remittance}"' in body
    assert client.get(shortfalls).status_code == 200
    assert client.get(remittance).status_code == 200


def test_another_regions_caseworker_gets_neither_page(client, run):
    client.force_login(caseworker("cw330", "330200"))
    assert client.get(reverse("admin:family_pool_pool_batch", args=[run.pk])).status_code == 404
    assert client.get(reverse("admin:family_pool_pool_batch_remittance", args=[run.pk])).status_code == 404
