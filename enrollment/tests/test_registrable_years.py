"""Issue 12, 登记参保 offers only what can succeed: a published year whose policy cannot price the
selected people on the business date (吕梁 2026 after its window: the late period charges the
fiscal subsidy, which 003 leaves unset) is withheld with the rules' reason in words."""

from datetime import date

import pytest

from enrollment.forms import registrable_years
from enrollment.models import Resident
from enrollment.tests.support import clone, person
from policy.defaults import published_years

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("policies")]
TODAY = date(2026, 11, 20)


@pytest.fixture
def luliang():
    a = person("141102", "19800101", "011", name="吕梁甲", today=date(2025, 11, 1))
    b = person("141181", "19810101", "021", name="孝义乙", today=date(2025, 11, 1))
    return Resident.objects.filter(pk__in=[a.pk, b.pk])


def test_a_published_year_that_cannot_price_is_withheld(luliang):
    years = published_years(luliang.values_list("region_id", flat=True).distinct())
    assert years == [2026]  # what 登记参保 offered: registering then failed for everyone
    kept, withheld = registrable_years(luliang, years, TODAY)
    assert kept == []
    assert withheld == {2026: "吕梁市 2026 年度“城乡居民”补缴时须一并缴纳的财政补助标准，来源文件未给出"}


def test_next_year_in_its_window_is_offered(luliang):
    clone("141100", 2026, 2027)  # published, dates a year on: its window is open on 2026-11-20
    years = published_years(luliang.values_list("region_id", flat=True).distinct())
    assert years == [2027, 2026]
    assert registrable_years(luliang, years, TODAY)[0] == [2027]


def test_a_year_that_prices_someone_is_kept():
    r = person("330203", "19800101", "031", name="宁波丙", today=date(2024, 11, 1))
    kept, withheld = registrable_years(Resident.objects.filter(pk=r.pk), [2025], date(2024, 11, 20))
    assert (kept, withheld) == ([2025], {})


def test_nothing_selected_offers_nothing():
    assert registrable_years(Resident.objects.none(), [2025], date(2024, 11, 20)) == ([], {2025: "所选人员均不能登记"})
