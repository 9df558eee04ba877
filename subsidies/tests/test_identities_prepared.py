"""One person's identities (the channel API asks this on every dues query and payment) are
read by the batch statement, prepared on the connection once it ran the settings' threshold —
the same answer as the batch read, with or without the policy-region filter."""

from datetime import date

import pytest
from django.db import connection

from enrollment.idnumbers import make_number
from policy.rules.types import Identity
from subsidies.models import AssistanceIdentity
from subsidies.selectors import identities_for, identities_for_many

pytestmark = pytest.mark.usefixtures("policies")

A = make_number("14118119800501011")
B = make_number("14110219900101021")


def certify(number, region, year, code, on=date(2025, 6, 1)):
    AssistanceIdentity.objects.create(id_number=number, name="某", region_id=region, year=year, identity=code,
                                      certified_on=on)


def _prepared_identity_reads() -> int:
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s",
                    ["%subsidies_assistanceidentity%"])
        return cur.fetchone()[0]


def test_one_person_is_the_batch_answer_and_prepared_after_the_threshold():
    certify(A, "141181", 2026, "dibao")  # Xiaoyi: counts under Lüliang's policy
    certify(A, "141100", 2026, "disabled_severe", date(2025, 3, 1))
    certify(A, "330200", 2026, "tekun")
    certify(A, "141100", 2025, "orphan")
    certify(B, "141100", 2026, "dibao_edge")
    AssistanceIdentity.objects.filter(id_number=B).update(removed_at="2025-07-01T00:00:00+08:00")
    batch = identities_for_many([A, B, make_number("11010519491231002")], [2025, 2026])
    lvliang = (Identity("dibao", date(2025, 6, 1)), Identity("disabled_severe", date(2025, 3, 1)))
    connection.ensure_connection()
    threshold = connection.connection.prepare_threshold
    assert threshold == 5 and _prepared_identity_reads() == 0
    for _ in range(threshold + 1):
        assert identities_for(A, 2026, "141100") == lvliang == batch[(A, 2026, "141100")]
    assert _prepared_identity_reads() == 1
    assert identities_for(A, 2025, "141100") == (Identity("orphan", date(2025, 6, 1)),)
    assert identities_for(A, 2026, "330200") == (Identity("tekun", date(2025, 6, 1)),)
    assert identities_for(B, 2026, "141100") == ()  # removed
    assert identities_for_many([A], [2026]) == {k: v for k, v in batch.items() if k[:2] == (A, 2026)}
    assert identities_for_many([A], [2025, 2026], policy_regions=["141100"]) == {
        (A, 2025, "141100"): (Identity("orphan", date(2025, 6, 1)),), (A, 2026, "141100"): lvliang}
