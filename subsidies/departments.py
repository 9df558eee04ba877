"""The certifying departments (认定部门) and how their names are read.

Rosters write a department as its owner wrote it: "吕梁市民政局", "孝义市残联",
"乡村振兴局", "工科局（改制办）".  Each is read to one of the codes below by the
words it contains, so a department's roster is one list whatever its spelling;
the policy data names the department per assistance tier (003 names them), read
the same way.
"""

from __future__ import annotations

import re
import unicodedata

DEPARTMENTS = {
    "civil_affairs": "民政部门",
    "rural_revitalisation": "乡村振兴部门",
    "disabled_federation": "残疾人联合会",
    "restructuring_office": "工科局（改制办）",
    "veterans_affairs": "退役军人事务部门",
    "health": "卫生健康部门",
    "medical_security": "医疗保障部门",
}

# The words that name each department, longest first where one holds another.
_WORDS = (
    ("退役军人", "veterans_affairs"),
    ("残疾人联合会", "disabled_federation"),
    ("残联", "disabled_federation"),
    ("乡村振兴", "rural_revitalisation"),
    ("扶贫", "rural_revitalisation"),
    ("改制", "restructuring_office"),
    ("工科局", "restructuring_office"),
    ("工业和科技", "restructuring_office"),
    ("工业和信息化", "restructuring_office"),
    ("民政", "civil_affairs"),
    ("卫生健康", "health"),
    ("卫健", "health"),
    ("医疗保障", "medical_security"),
    ("医保", "medical_security"),
)

_CODES = {code: code for code in DEPARTMENTS} | {name: code for code, name in DEPARTMENTS.items()}


def department_code(text: str) -> str | None:
    """The department a name stands for; None when it names none of them."""
    value = unicodedata.normalize("NFKC", text or "").strip()
    if not value:
        return None
    if value in _CODES:
        return _CODES[value]
    value = re.sub(r"\s+", "", value)
    for word, code in _WORDS:
        if word in value:
            return code
    return None


def department_label(code: str) -> str:
    return DEPARTMENTS.get(code, code)


def known_departments_text() -> str:
    return "、".join(DEPARTMENTS.values())
