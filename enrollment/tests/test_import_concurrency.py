"""Finding 5: two imports of the same people at once, listed in opposite order, on two
connections, never deadlock (every staged upsert writes in key order)."""

import sys
import threading
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import connection

from enrollment.idnumbers import make_number
from enrollment.imports import import_employee_coverage, import_residents, import_residents_table
from enrollment.models import EmployeeCoverage, Enrollment, Resident

from .import_support import COVERAGE_HEADER, csv_bytes

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("policies")]

PEOPLE = 3000
IN_WINDOW = date(2024, 11, 15)  # Ningbo's 2025 window


def numbers() -> list[str]:
    first = date(1960, 1, 1)
    return [make_number(f"330203{(first + timedelta(days=i)):%Y%m%d}001") for i in range(PEOPLE)]


def run_together(monkeypatch, writer_module, writer_name, *jobs):
    """Run the jobs on their own threads (own connections), all writing at the same moment."""
    barrier = threading.Barrier(len(jobs), timeout=60)
    real = getattr(writer_module, writer_name)

    def in_step(*args, **kwargs):
        barrier.wait()  # both parsed: now both write in one long transaction each
        return real(*args, **kwargs)

    monkeypatch.setattr(writer_module, writer_name, in_step)
    results, errors = [None] * len(jobs), []

    def run(i, job):
        try:
            results[i] = job()
        except Exception as exc:  # noqa: BLE001 - any failure (deadlock detected) fails the test
            errors.append(exc)
            barrier.abort()
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, job)) for i, job in enumerate(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    return results


def test_two_resident_imports_in_opposite_order_do_not_deadlock(monkeypatch):
    rows = [["张三", n, "本地", "无", "", "330200", "2025"] for n in numbers()]
    header = ["姓名", "身份证号码", "户籍", "居住证", "学生类别", "参保地", "参保年度"]
    forward, backward = csv_bytes(rows, header=header), csv_bytes(rows[::-1], header=header)
    writer_module = sys.modules[import_residents_table.__module__]
    a, b = run_together(
        monkeypatch, writer_module, "write_residents",
        lambda: import_residents(forward, "a.csv", actor="import a", today=IN_WINDOW),
        lambda: import_residents(backward, "b.csv", actor="import b", today=IN_WINDOW))

    assert (a.errors, b.errors) == ([], [])
    assert a.created + b.created == PEOPLE and a.updated + b.updated == 0
    assert a.registered + b.registered == PEOPLE
    assert a.already_registered + b.already_registered == PEOPLE
    assert Resident.objects.count() == PEOPLE
    assert sorted(Resident.objects.values_list("id_number", flat=True)) == sorted(numbers())
    assert Enrollment.objects.filter(year=2025, status="registered", amount_due=Decimal("780.00"),
                                     region_id="330200").count() == PEOPLE
    assert Enrollment.objects.count() == PEOPLE


def test_two_coverage_imports_in_opposite_order_do_not_deadlock(monkeypatch):
    rows = [["张三", n, "330200", "2025", ""] for n in numbers()]
    forward, backward = csv_bytes(rows, header=COVERAGE_HEADER), csv_bytes(rows[::-1], header=COVERAGE_HEADER)
    coverage_module = sys.modules[import_employee_coverage.__module__]
    a, b = run_together(
        monkeypatch, coverage_module, "audit_context",
        lambda: import_employee_coverage(forward, "a.csv", actor="import a", today=IN_WINDOW),
        lambda: import_employee_coverage(backward, "b.csv", actor="import b", today=IN_WINDOW))
    assert (a.errors, b.errors) == ([], [])
    assert (a.created + b.created, a.updated + b.updated) == (PEOPLE, 0)
    assert EmployeeCoverage.objects.filter(year=2025, region_code="330200", ended_on=None).count() == PEOPLE
