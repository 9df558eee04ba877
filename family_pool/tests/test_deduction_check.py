"""``deduction_check``: the December batch's deductions carry no database foreign keys
(family_pool/models.py); the check proves their references instead — sound after a run, and
each kind of broken or disagreeing reference named exactly."""

from __future__ import annotations

import json
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command

from family_pool.batch import run_pool_batch
from family_pool.deductions import deduction_check
from family_pool.models import PoolDeduction
from policy.models import Region

from .test_batch import AT, YEAR, families

pytestmark = pytest.mark.django_db


@pytest.fixture
def decided(policies):
    fam = families()
    summary = run_pool_batch(region="310000", year=YEAR, at=AT)
    assert summary["deducted"] == 5
    return fam, summary["run_id"]


def deduction(fam, key: str, i: int = 0) -> PoolDeduction:
    return PoolDeduction.objects.get(id_number=fam[key][1][i].id_number, year=YEAR)


def problems() -> dict[int, tuple[str, ...]]:
    return {p.deduction_id: p.problems for p in deduction_check()}


def test_a_run_leaves_sound_references(decided):
    _, run_id = decided
    assert PoolDeduction.objects.count() == 8  # 5 deducted, 2 insufficient, 1 skipped
    assert deduction_check() == [] and deduction_check(run_id) == []
    out, err = StringIO(), StringIO()
    call_command("deduction_check", stdout=out, stderr=err)
    assert (out.getvalue(), err.getvalue().strip()) == ("", "0 deduction(s) with broken references")


def test_missing_rows_are_named(decided):
    fam, run_id = decided
    a1, a2, b2 = deduction(fam, "A"), deduction(fam, "A", 1), deduction(fam, "B", 1)
    PoolDeduction.objects.filter(pk=a1.pk).update(member_id=10**9, entry_id=10**9)
    PoolDeduction.objects.filter(pk=a2.pk).update(run_id=10**9)
    PoolDeduction.objects.filter(pk=b2.pk).update(enrollment_id=10**9, network_id=10**9)
    c1, e1 = deduction(fam, "C"), deduction(fam, "E")
    PoolDeduction.objects.filter(pk=c1.pk).update(region_id="999999")
    PoolDeduction.objects.filter(pk=e1.pk).update(payment_id=10**9)
    assert problems() == {a1.pk: ("member_missing", "entry_missing"), a2.pk: ("run_missing",),
                          b2.pk: ("member_mismatch", "network_missing", "enrollment_missing"),
                          c1.pk: ("region_missing", "enrollment_mismatch"), e1.pk: ("payment_missing",)}
    assert [p.deduction_id for p in deduction_check(run_id)] == sorted([a1.pk, b2.pk, c1.pk, e1.pk])  # not a2


def test_references_that_disagree_are_named(decided):
    fam, _ = decided
    a1, a2, e1, f2 = deduction(fam, "A"), deduction(fam, "A", 1), deduction(fam, "E"), deduction(fam, "F", 1)
    PoolDeduction.objects.filter(pk=a1.pk).update(member_id=e1.member_id)  # E's member, A's network
    PoolDeduction.objects.filter(pk=a2.pk).update(payment_id=e1.payment_id)  # E's payment twice
    other_region = Region.objects.exclude(code="310000").order_by("code").values_list("code", flat=True).first()
    PoolDeduction.objects.filter(pk=f2.pk).update(amount=Decimal("300.00"), region_id=other_region)
    assert problems() == {
        a1.pk: ("member_mismatch",),
        a2.pk: ("payment_mismatch", "payment_shared"),
        e1.pk: ("payment_shared",),
        f2.pk: ("enrollment_mismatch", "payment_mismatch", "entry_mismatch"),
    }
    out, err = StringIO(), StringIO()
    with pytest.raises(SystemExit) as exit_:
        call_command("deduction_check", stdout=out, stderr=err)
    assert exit_.value.code == 1
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [line["deduction_id"] for line in lines] == sorted([a1.pk, a2.pk, e1.pk, f2.pk])
    first = next(line for line in lines if line["deduction_id"] == a1.pk)
    assert first == {"deduction_id": a1.pk, "id_number": fam["A"][1][0].id_number, "year": YEAR,
                     "problems": ["member_mismatch"], "description": "成员不属于该共济网或身份证号码不符"}
    assert err.getvalue().strip() == "4 deduction(s) with broken references"


def test_an_entry_of_another_account_is_named(decided):
    fam, _ = decided
    a1, e1 = deduction(fam, "A"), deduction(fam, "E")
    PoolDeduction.objects.filter(pk=a1.pk).update(entry_id=e1.entry_id)
    assert problems() == {a1.pk: ("entry_mismatch", "entry_shared"), e1.pk: ("entry_shared",)}
