"""subsidies.selectors.identities_for_many: one query, by the policy region that certified."""

from datetime import date

import pytest

from enrollment.idnumbers import make_number
from policy.rules.types import Identity
from subsidies.models import AssistanceIdentity
from subsidies.selectors import identities_for, identities_for_many

pytestmark = pytest.mark.usefixtures("policies")

A = make_number("14118119800501011")
B = make_number("33020319800101021")


def certify(number, region, year, code, on=date(2025, 6, 1)):
    AssistanceIdentity.objects.create(id_number=number, name="某", region_id=region, year=year, identity=code,
                                      certified_on=on)


def test_identities_are_keyed_by_the_policy_region_that_certified_them(django_assert_num_queries):
    certify(A, "141181", 2026, "dibao")  # Xiaoyi: counts under Lüliang's policy
    certify(A, "141100", 2026, "disabled_severe", date(2025, 3, 1))
    certify(A, "330200", 2026, "tekun")  # Ningbo's certificate: not Lüliang's business
    certify(A, "141100", 2025, "orphan")
    certify(B, "330200", 2026, "dibao_edge")
    with django_assert_num_queries(1):
        found = identities_for_many([A, B, A], [2026])
    assert found == {
        (A, 2026, "141100"): (Identity("dibao", date(2025, 6, 1)), Identity("disabled_severe", date(2025, 3, 1))),
        (A, 2026, "330200"): (Identity("tekun", date(2025, 6, 1)),),
        (B, 2026, "330200"): (Identity("dibao_edge", date(2025, 6, 1)),),
    }
    assert identities_for_many([A, B], [2026], policy_regions=["141100"]) == {
        (A, 2026, "141100"): (Identity("dibao", date(2025, 6, 1)), Identity("disabled_severe", date(2025, 3, 1)))}
    assert identities_for(A, 2025, "141100") == (Identity("orphan", date(2025, 6, 1)),)
    assert identities_for(B, 2026, "141100") == ()
    assert identities_for_many([], [2026]) == {}
