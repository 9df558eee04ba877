"""enrollment 0016: one live enrollment a person-year is guarded by a unique constraint on
(resident, year, cancellation time) with NULLs equal — the same rule as the partial index it
replaced — which also serves every lookup by resident, so the resident column has no index of
its own (one index fewer written on each enrollment update); the audit events keep theirs."""

from datetime import date

import pytest
from django.db import IntegrityError, connection, transaction

from enrollment.models import Enrollment
from enrollment.services import enrollment_cancel

from .support import person, register

pytestmark = pytest.mark.usefixtures("policies")
DAY = date(2025, 11, 3)  # within Lüliang’s collection period for 2026


def indexes(table: str) -> dict[str, str]:
    with connection.cursor() as cur:
        cur.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s", [table])
        return {name: definition.split(" USING btree ")[1] for name, definition in cur.fetchall()}


def test_the_person_year_constraint_is_the_only_index_on_the_resident_column():
    on_resident = {n: d for n, d in indexes("enrollment_enrollment").items() if "resident_id" in d}
    assert on_resident == {
        "enrollment_one_per_person_year": "(resident_id, year, cancelled_at) NULLS NOT DISTINCT"}
    events = {n: d for n, d in indexes("enrollment_enrollmentevent").items() if "resident_id" in d}
    assert events == {"enrollmentevent_resident": "(resident_id)"}


def test_a_second_live_enrollment_is_refused_and_one_after_a_cancellation_allowed():
    r = person("141102", "19800501", name="李四", today=DAY)
    first = register(r, 2026, DAY)
    twin = {f.attname: getattr(first, f.attname) for f in Enrollment._meta.concrete_fields if f.attname != "id"}
    with pytest.raises(IntegrityError, match="enrollment_one_per_person_year"), transaction.atomic():
        Enrollment.objects.create(**twin)
    enrollment_cancel(enrollment=first, reason="登记有误", actor=None)
    second = register(r, 2026, DAY)
    enrollment_cancel(enrollment=second, reason="再次登记有误", actor=None)
    third = register(r, 2026, DAY)
    assert sorted(Enrollment.objects.filter(resident=r).values_list("status", flat=True)) == [
        "cancelled", "cancelled", "registered"]
    assert third.status == "registered"
