"""Which regions' sources list the documents of a registration is policy data
(``registration_documents_listed`` of the policy year, issue 13): loaded from the data files,
read through ``policy.selectors.registration_documents_listed`` (a county through its city's
policy), copied by a clone, changed by editing the year — and the registration's checklist
follows the data, region by region."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from django.db.models import F

from enrollment.documents import checklist
from enrollment.tests.support import paid_row, person, register
from policy.datafile import PolicyFileError, normalise
from policy.models import PolicyYear
from policy.selectors import registration_documents_listed
from policy.services import clone_policy_year

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("policies")]

NO_LIST = "来源文件未列出该地区参保登记所需材料"


@pytest.mark.parametrize("region, year, listed", [
    ("330200", 2025, True),    # 000 §2 如何参保
    ("630100", 2025, False),   # 001: payment channels only
    ("610400", 2025, False),   # 002: where to register, not with what
    ("141100", 2026, False),   # 003
    ("141181", 2026, False),   # Xiaoyi runs Lüliang's policy
    ("310000", 2025, False),   # 004: schools register
])
def test_each_region_from_its_data_file(region, year, listed):
    assert registration_documents_listed(region, year) is listed
    if region != "141181":
        assert PolicyYear.objects.get(region_id=region, year=year).registration_documents_listed is listed


def test_no_published_year_means_no_list():
    assert registration_documents_listed("330200", 2031) is False
    assert registration_documents_listed("999999", 2025) is False


@pytest.mark.parametrize("area, region, year, on, summary", [
    ("330203", "330200", 2025, date(2024, 11, 1), "材料未齐，缺：本人居民身份证或社会保障卡"),
    ("630102", "630100", 2025, date(2024, 11, 1), NO_LIST),
    ("610402", "610400", 2025, date(2024, 11, 1), NO_LIST),
    ("141102", "141100", 2026, date(2026, 1, 10), NO_LIST),
    ("141181", "141181", 2026, date(2026, 1, 10), NO_LIST),
])
def test_the_checklist_of_a_counter_registration_per_region(area, region, year, on, summary):
    r = person(area, "19800101", "011", name="柜台办", today=on)
    e = register(r, year, on, via="counter")
    assert (e.region_id, e.registered_via) == (region, "counter")
    assert checklist(e).summary() == summary


def test_shanghai_checklist_per_region():
    r = person("310101", "19800101", "011", name="沪柜台", today=date(2026, 11, 1))
    e = paid_row(r, 2025)
    e.registered_via = "counter"
    assert checklist(e).summary() == NO_LIST


def test_the_data_not_the_code_decides():
    """Ticking the field for Xining (as a caseworker would in the admin) brings the checklist;
    unticking Ningbo's takes it away."""
    on = date(2024, 11, 1)
    xn = register(person("630102", "19800101", "011", name="西宁人", today=on), 2025, on, via="counter")
    nb = register(person("330203", "19800101", "011", name="宁波人", today=on), 2025, on, via="counter")
    PolicyYear.objects.filter(region_id="630100", year=2025).update(
        registration_documents_listed=True, revision=F("revision") + 1)
    PolicyYear.objects.filter(region_id="330200", year=2025).update(
        registration_documents_listed=False, revision=F("revision") + 1)
    assert checklist(xn).summary() == "材料未齐，缺：本人居民身份证或社会保障卡"
    assert checklist(nb).summary() == NO_LIST


def test_a_clone_keeps_the_field():
    clone_policy_year(region="330200", from_year=2025, to_year=2026, publish=True)
    clone_policy_year(region="630100", from_year=2025, to_year=2026, publish=True)
    assert (registration_documents_listed("330200", 2026), registration_documents_listed("630100", 2026)) == (
        True, False)


def test_the_data_file_key():
    import yaml
    from django.conf import settings

    raw = yaml.safe_load((Path(settings.BASE_DIR) / "policies" / "630100-2025.yaml").read_text(encoding="utf-8"))
    assert normalise(dict(raw))["year_fields"]["registration_documents_listed"] is False
    del raw["registration_documents_listed"]  # unwritten: not listed
    assert normalise(dict(raw))["year_fields"]["registration_documents_listed"] is False
    assert normalise({**raw, "registration_documents_listed": True})["year_fields"][
        "registration_documents_listed"] is True
    with pytest.raises(PolicyFileError) as exc:
        normalise({**raw, "registration_documents_listed": "宁波"})
    assert "registration_documents_listed" in str(exc.value)
