"""Shared helpers for the import tests: spreadsheets in bytes, counts of rows and audit events."""

from __future__ import annotations

import csv
import io

from django.apps import apps

from enrollment.idnumbers import make_number

RESIDENT_HEADER = ["姓名", "身份证号码", "户籍", "居住证", "学生类别", "参保地"]
COVERAGE_HEADER = ["姓名", "身份证号码", "参保地", "参保年度", "中断日期"]

# People used across the tests (born, sex from the 17th digit: odd = M).
NINGBO_MAN = make_number("33020319800101123")      # 1980-01-01, M
NINGBO_WOMAN = make_number("33020319900215124")    # 1990-02-15, F
NINGBO_PUPIL = make_number("33020320120901125")    # 2012-09-01, M
XINING_WOMAN = make_number("63010219850505126")    # 1985-05-05, F
XIAOYI_MAN = make_number("14118119900315123")      # 1990-03-15, M (code newer than the birth year)
XIAOYI_NEWBORN = make_number("14118120260301128")  # 2026-03-01, F


def csv_bytes(rows, header=RESIDENT_HEADER, encoding="utf-8") -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode(encoding)


def counts() -> dict:
    """Rows in the tables an import writes, and in their pghistory event tables."""
    names = ["Resident", "ResidentEvent", "Enrollment", "EnrollmentEvent", "EmployeeCoverage",
             "EmployeeCoverageEvent"]
    result = {n: apps.get_model("enrollment", n).objects.count() for n in names}
    result["Context"] = apps.get_model("pghistory", "Context").objects.count()
    return result


def event_model(name: str):
    return apps.get_model("enrollment", f"{name}Event")
