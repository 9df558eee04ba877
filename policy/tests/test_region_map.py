"""policy.selectors.policy_codes from the per-process region map: read once per
REGION_MAP_TTL seconds, a change of a region's policy region seen within that time, an
unknown code reloading the map at once (a region just created is never mistaken)."""

from __future__ import annotations

import pytest

from policy import selectors
from policy.models import Region
from policy.selectors import REGION_MAP_TTL, policy_codes

pytestmark = pytest.mark.usefixtures("policies")


@pytest.fixture
def clock(monkeypatch):
    now = [5000.0]
    monkeypatch.setattr(selectors.time, "monotonic", lambda: now[0])
    selectors.clear_cache()
    return now


def test_the_map_is_read_once_per_period(clock, django_assert_num_queries):
    with django_assert_num_queries(1):
        assert policy_codes(["141181", "141100", "330200"]) == {"141181": "141100", "141100": "141100",
                                                                "330200": "330200"}
    with django_assert_num_queries(0):
        assert policy_codes({"141181"}) == {"141181": "141100"}
    clock[0] += REGION_MAP_TTL + 0.1
    with django_assert_num_queries(1):
        assert policy_codes({"141181"}) == {"141181": "141100"}


def test_a_changed_policy_region_is_seen_within_the_period(clock):
    assert policy_codes(["141181"]) == {"141181": "141100"}
    Region.objects.filter(code="141181").update(policy_region=None)  # the admin, in another process
    clock[0] += REGION_MAP_TTL - 0.1
    assert policy_codes(["141181"]) == {"141181": "141100"}
    clock[0] += 0.2
    assert policy_codes(["141181"]) == {"141181": "141181"}


def test_an_unknown_code_reloads_the_map_and_maps_to_itself(clock, django_assert_num_queries):
    policy_codes(["141100"])
    with django_assert_num_queries(1):
        assert policy_codes(["999999", "141181"]) == {"999999": "999999", "141181": "141100"}
    Region.objects.create(code="141182", name="汾阳", province="山西省", policy_region_id="141100")
    assert policy_codes(["141182"]) == {"141182": "141100"}  # new: read at once, not after the period


def test_clear_cache_forgets_the_map(clock, django_assert_num_queries):
    policy_codes(["141100"])
    selectors.clear_cache()
    with django_assert_num_queries(1):
        policy_codes(["141100"])
