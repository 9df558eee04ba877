"""共济支付: an employee member's own historical balance first, then the pool; a resident member
the pool only; never below zero; idempotent on the request id; only once the mode is chosen."""

from decimal import Decimal

import pytest

from family_pool.medical import settle
from family_pool.models import EmployeeAccount, MedicalSettlement
from family_pool.networks import PoolError, member_add, modes_set, network_create
from family_pool.rules import split_cost

from .pool_support import assert_ledger_balanced, at, employee, enrolled, entries

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("policies")]
DEC = at(2024, 12, 10)


@pytest.mark.parametrize("cost,own,pool,expected", [
    ("100.00", "30.00", "500.00", ("30.00", "70.00", "0.00")),
    ("100.00", "0.00", "500.00", ("0.00", "100.00", "0.00")),
    ("100.00", "150.00", "500.00", ("100.00", "0.00", "0.00")),
    ("100.00", "30.00", "50.00", ("30.00", "50.00", "20.00")),
    ("100.00", "0.00", "0.00", ("0.00", "0.00", "100.00")),
])
def test_split_cost(cost, own, pool, expected):
    assert split_cost(Decimal(cost), Decimal(own), Decimal(pool)) == tuple(Decimal(x) for x in expected)


@pytest.fixture
def family():
    org = employee("310101", "19800101", "011", name="张组建", region="310000", hist="500.00")
    n = network_create(organizer_id_number=org.id_number, actor="t", now=DEC)
    wife = employee("310101", "19820101", "022", name="李妻", region="310000", hist="30.00", cur="99.00")
    kid = enrolled("310101", "20150601", "031", name="张小", year=2025)
    member_add(network=n, id_number=wife.id_number, relation="spouse", actor="t", now=DEC)
    member_add(network=n, id_number=kid.id_number, relation="child", actor="t", now=DEC)
    return n, org, wife, kid


def test_mode_must_be_chosen(family):
    n, org, wife, kid = family
    with pytest.raises(PoolError) as exc:
        settle(network=n, member_id_number=kid.id_number, request_id="r0", cost="10.00", actor="t")
    assert exc.value.code == "mode_not_chosen"
    assert MedicalSettlement.objects.count() == 0


def test_employee_member_spends_own_first_then_the_pool(family):
    n, org, wife, kid = family
    modes_set(network=n, medical=True, premium=False, actor="t", now=DEC)
    s = settle(network=n, member_id_number=wife.id_number, request_id="r1", cost="100.00", actor="hospital")
    s = MedicalSettlement.objects.get(pk=s.pk)
    assert (s.cost, s.from_own, s.from_pool, s.unpaid, s.excluded_from_other_schemes) == (
        Decimal("100.00"), Decimal("30.00"), Decimal("70.00"), Decimal("0.00"), True)
    wife.refresh_from_db()
    org.refresh_from_db()
    assert (wife.historical_balance, wife.current_balance) == (Decimal("0.00"), Decimal("99.00"))  # current untouched
    assert org.historical_balance == Decimal("430.00")
    assert entries(wife)[-1] == ("historical", "own_medical", Decimal("-30.00"))
    assert entries(org)[-1] == ("historical", "pool_medical", Decimal("-70.00"))
    assert_ledger_balanced()


def test_resident_member_draws_on_the_pool_never_below_zero(family):
    n, org, wife, kid = family
    modes_set(network=n, medical=True, premium=False, actor="t", now=DEC)
    first = settle(network=n, member_id_number=kid.id_number, request_id="k1", cost="420.00", actor="t")
    assert (first.from_own, first.from_pool, first.unpaid) == (Decimal("0.00"), Decimal("420.00"), Decimal("0.00"))
    second = settle(network=n, member_id_number=kid.id_number, request_id="k2", cost="100.00", actor="t")
    assert (second.from_pool, second.unpaid) == (Decimal("80.00"), Decimal("20.00"))
    org.refresh_from_db()
    assert org.historical_balance == Decimal("0.00")
    third = settle(network=n, member_id_number=kid.id_number, request_id="k3", cost="5.00", actor="t")
    assert (third.from_pool, third.unpaid) == (Decimal("0.00"), Decimal("5.00"))
    assert [e[2] for e in entries(org) if e[1] == "pool_medical"] == [Decimal("-420.00"), Decimal("-80.00")]
    assert_ledger_balanced()


def test_idempotent_on_request_id(family):
    n, org, wife, kid = family
    modes_set(network=n, medical=True, premium=False, actor="t", now=DEC)
    a = settle(network=n, member_id_number=kid.id_number, request_id="same", cost="40.00", actor="t")
    b = settle(network=n, member_id_number=kid.id_number, request_id="same", cost="40.00", actor="t")
    assert a.pk == b.pk and MedicalSettlement.objects.count() == 1
    assert EmployeeAccount.objects.get(pk=org.pk).historical_balance == Decimal("460.00")
    with pytest.raises(PoolError) as exc:
        settle(network=n, member_id_number=kid.id_number, request_id="same", cost="41.00", actor="t")
    assert exc.value.code == "idempotency_conflict"
    assert_ledger_balanced()


def test_commercial_purchase_needs_premium_mode_and_frozen_pool_pays_nothing(family):
    n, org, wife, kid = family
    with pytest.raises(PoolError):
        settle(network=n, member_id_number=kid.id_number, request_id="h1", cost="129.00", purpose="commercial",
               actor="t")
    modes_set(network=n, medical=False, premium=True, actor="t", now=DEC)
    s = settle(network=n, member_id_number=kid.id_number, request_id="h1", cost="129.00", purpose="commercial",
               actor="t")
    assert (s.purpose, s.from_pool) == ("commercial", Decimal("129.00"))
    EmployeeAccount.objects.filter(pk=org.pk).update(status="frozen")
    s = settle(network=n, member_id_number=kid.id_number, request_id="h2", cost="10.00", purpose="commercial",
               actor="t")
    assert (s.from_pool, s.unpaid) == (Decimal("0.00"), Decimal("10.00"))
    assert_ledger_balanced()
