"""ARCHITECTURE.md's floors for the top one: family_pool pays through payments like any channel,
and nothing below it imports it (payments asks through hooks it owns, e.g.
``payments.refunds.REFUND_RECEIVERS``).  Tests, migrations and config (the composition root)
are left out."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BELOW = ["payments", "enrollment", "subsidies", "flexible", "accounts", "policy", "core"]


def _imports(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module


def test_no_floor_below_imports_family_pool():
    found = []
    for app in BELOW:
        for path in (ROOT / app).rglob("*.py"):
            rel = path.relative_to(ROOT)
            if "tests" in rel.parts or "migrations" in rel.parts:
                continue
            found += [f"{rel}: {name}" for name in _imports(path) if name.split(".")[0] == "family_pool"]
    assert found == []
