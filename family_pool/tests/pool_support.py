"""Builders shared by the family pool tests: accounts through the import (so the ledger holds
them), residents with an enrollment, the ledger invariant."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from enrollment.models import EmployeeCoverage, Enrollment, EnrollmentStatus
from enrollment.tests.support import number, person
from family_pool.accounts import account_check, import_employee_accounts
from family_pool.models import AccountEntry, EmployeeAccount

SH = ZoneInfo("Asia/Shanghai")
HEADER = "姓名,身份证号码,参保地,历年账户余额,当年账户余额,账户状态\n"


def at(y, m, d, hh=10, mm=0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=SH)


def csv(rows) -> bytes:
    return (HEADER + "".join(",".join(r) + "\n" for r in rows)).encode("utf-8")


def accounts(*rows, **kwargs):
    """Import (name, id, region, historical, current, status) rows; returns the result."""
    return import_employee_accounts(csv(rows), "accounts.csv", actor="test", **kwargs)


def employee(area: str, birth: str, seq: str = "001", *, name="王职工", region=None, hist="1000.00",
             cur="0.00", status="正常") -> EmployeeAccount:
    idn = number(area, birth, seq)
    result = accounts((name, idn, region or area, hist, cur, status))
    assert not result.rejected, result.errors
    return EmployeeAccount.objects.get(id_number=idn)


def enrolled(area: str, birth: str, seq: str = "001", *, name="李小", year=2025, via="community",
             registered_at=None, region=None, status=EnrollmentStatus.REGISTERED, **extra):
    r = person(area, birth, seq, name=name, region=region)
    Enrollment.objects.create(resident=r, year=year, region_id=r.region_id, category="student", status=status,
                              registered_via=via, registered_at=registered_at or at(year - 1, 11, 1),
                              amount_due=Decimal("355.00"), **extra)
    return r


def covered(area: str, birth: str, seq: str = "001", *, name="赵职工", region=None, year=2025, ended_on=None):
    idn = number(area, birth, seq)
    EmployeeCoverage.objects.create(id_number=idn, name=name, region_code=region or area, year=year,
                                    ended_on=ended_on)
    return idn


def assert_ledger_balanced():
    assert account_check() == []
    for a in EmployeeAccount.objects.all():
        hist = sum((e.amount for e in a.entries.filter(bucket="historical")), Decimal("0"))
        cur = sum((e.amount for e in a.entries.filter(bucket="current")), Decimal("0"))
        assert (a.historical_balance, a.current_balance) == (hist, cur), a.id_number


def entries(account) -> list[tuple[str, str, Decimal]]:
    return list(AccountEntry.objects.filter(account=account).order_by("id").values_list("bucket", "kind", "amount"))
