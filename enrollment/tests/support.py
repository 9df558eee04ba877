"""Builders shared by the enrollment tests (residents, users by role, policy clones, a fixed today)."""

from __future__ import annotations

import contextlib
from datetime import date
from decimal import Decimal
from unittest import mock

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission

from accounts.models import StaffRegion
from accounts.roles import AUDITOR, CASEWORKER
from enrollment.idnumbers import make_number
from enrollment.models import Enrollment, EnrollmentStatus
from enrollment.services import enrollment_record_payment, enrollment_register, resident_create
from policy.services import clone_policy_year

PASSWORD = "Correct-horse-42"


def number(area: str, birth: str, seq: str = "001") -> str:
    """A valid ID number: 6-digit area, YYYYMMDD birth date, 3 digits (odd = male)."""
    return make_number(f"{area}{birth}{seq}")


def person(area: str, birth: str, seq: str = "001", *, name: str = "张三", region: str | None = None,
           today: date | None = None, **fields):
    """A resident created through the service (region defaults to the city of the area code)."""
    region = region or {"330203": "330200", "630102": "630100", "610402": "610400",
                        "141102": "141100", "141181": "141181", "310101": "310000"}.get(area, area)
    return resident_create(id_number=number(area, birth, seq), name=name, region=region,
                           today=today or date(2026, 11, 1), actor=None, **fields)


def register(resident, year: int, today: date, via: str = "community", **kw) -> Enrollment:
    return enrollment_register(resident=resident, year=year, registered_via=via, actor=None,
                               today=today, **kw)


def register_and_pay(resident, year: int, today: date, paid_on: date, amount: str) -> Enrollment:
    e = register(resident, year, today)
    return enrollment_record_payment(enrollment=e, amount=Decimal(amount), paid_on=paid_on,
                                     paid_via="channel", actor=None)


def paid_row(resident, year: int, region: str | None = None, category: str = "resident") -> Enrollment:
    """A paid enrollment written directly (for years without a policy in the database)."""
    return Enrollment.objects.create(
        resident=resident, year=year, region_id=region or resident.region_id, category=category,
        status=EnrollmentStatus.PAID, registered_via="community", amount_due=Decimal("400.00"),
        paid_amount=Decimal("400.00"), paid_on=date(year - 1, 12, 1), paid_via="channel",
        benefit_start=date(year, 1, 1), benefit_end=date(year, 12, 31))


def clone(region: str, from_year: int, *to_years: int) -> None:
    for y in to_years:
        clone_policy_year(region=region, from_year=from_year, to_year=y, publish=True)


def caseworker(username: str, *regions: str):
    user = get_user_model().objects.create_user(username=username, password=PASSWORD, is_staff=True)
    user.groups.add(Group.objects.get(name=CASEWORKER))
    for code in regions:
        StaffRegion.objects.create(user=user, region_id=code)
    return user


def auditor(username: str = "auditor"):
    user = get_user_model().objects.create_user(username=username, password=PASSWORD, is_staff=True)
    user.groups.add(Group.objects.get(name=AUDITOR))
    return user


def grant(user, codename: str):
    user.user_permissions.add(Permission.objects.get(codename=codename))
    return get_user_model().objects.get(pk=user.pk)  # fresh permission cache


@contextlib.contextmanager
def today_is(day: date):
    """Freeze timezone.localdate() (the 'today' of code paths that take no today=)."""
    with mock.patch("django.utils.timezone.localdate", return_value=day):
        yield


def msgs(resp) -> list[str]:
    """The messages an admin response left for the user."""
    from django.contrib.messages import get_messages

    return [str(m) for m in get_messages(resp.wsgi_request)]
