"""Every action the code records in the audit trail (``audit_context(..., action="…")``) has
its words on the audit pages (core.audit_display.ACTIONS) — a new service without them would
show 其他操作 to the auditor."""

import re
from pathlib import Path

from core.audit_display import ACTIONS

ROOT = Path(__file__).resolve().parents[2]
APPS = ["accounts", "config", "core", "enrollment", "family_pool", "flexible", "payments", "policy", "subsidies"]
_RECORDED = re.compile(r'audit_context\([^)]*?action="([a-z_]+)"', re.S)


def recorded_actions() -> set[str]:
    found = set()
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            if "tests" in path.parts or "migrations" in path.parts:
                continue
            found |= set(_RECORDED.findall(path.read_text(encoding="utf-8")))
    return found


def test_the_scan_finds_the_actions():
    assert {"payment_record", "zero_claim_record", "flexible_enroll", "scheme_exit_record"} <= recorded_actions()


def test_every_recorded_action_has_its_words():
    missing = sorted(a for a in recorded_actions() if a not in ACTIONS)
    assert missing == []
