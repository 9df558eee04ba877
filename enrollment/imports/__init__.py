"""Bulk imports of residents and employee coverage (INTERFACES.md section 4).

Every row is parsed and checked first, each fault reported as
``row N: column: reason``; then, only if nothing is wrong (or with
``skip_invalid``), everything is written in one transaction the set-based
way: COPY into a staging table, then ``INSERT … SELECT … ORDER BY key ON
CONFLICT`` (key order, so that two imports never deadlock).  The natural keys
(ID number; ID number + year) make a second import a no-op.  The admin's
import page (django-import-export) calls the same functions.

- ``common``: row errors, the result, checks of shared columns;
- ``residents``: reading and checking a residents file, pricing its
  registrations and the re-pricing of changed people (no writes);
- ``residents_write``: the residents write;
- ``coverage``: employee-insurance years;
- ``zero_claims``: zero-claim years (零报销名单, 004 (一)Q1).
"""

from .common import CHUNK, HELD_ELSEWHERE, ImportResult, RowError
from .coverage import (
    COVERAGE_OPTIONAL,
    COVERAGE_REQUIRED,
    import_employee_coverage,
    import_employee_coverage_table,
)
from .residents import HUKOU, PERMIT, RESIDENT_OPTIONAL, RESIDENT_REQUIRED, STUDENT, ParsedResident, parse_residents
from .residents_write import import_residents, import_residents_table, write_residents

__all__ = [
    "CHUNK", "COVERAGE_OPTIONAL", "COVERAGE_REQUIRED", "HELD_ELSEWHERE", "HUKOU", "PERMIT",
    "RESIDENT_OPTIONAL", "RESIDENT_REQUIRED", "STUDENT", "ImportResult", "ParsedResident", "RowError",
    "import_employee_coverage", "import_employee_coverage_table", "import_residents",
    "import_residents_table", "parse_residents", "write_residents",
]
