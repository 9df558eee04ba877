"""payments sits below flexible (ARCHITECTURE.md floors): it reaches the flexible scheme only
through the registry (payments.schemes) that flexible fills at ready(), never by import."""

import re
from pathlib import Path

from payments.schemes import RESIDENT, scheme_codes, scheme_handler

APP = Path(__file__).resolve().parents[1]
IMPORT = re.compile(r"^\s*(?:from|import)\s+flexible\b", re.M)


def test_payments_never_imports_flexible():
    found = [str(p.relative_to(APP)) for p in APP.rglob("*.py")
             if "tests" not in p.parts and IMPORT.search(p.read_text(encoding="utf-8"))]
    assert found == []


def test_flexible_registers_its_scheme_at_ready():
    assert scheme_codes() == (RESIDENT, "flexible_employment")
    handler = scheme_handler("flexible_employment")
    assert (handler.code, handler.label) == ("flexible_employment", "灵活就业人员医疗保险")
    assert scheme_handler(RESIDENT) is None  # the resident scheme is the ledger's own path
