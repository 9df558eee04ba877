"""Checks a policy year must pass before it is published (pure, over the normalised dict).

Each problem is a sentence in Chinese for the caseworker.  Unset figures are
not problems: the source may not give them, and the quote reports them.
"""

from __future__ import annotations

from datetime import date

from .rules.types import CATEGORIES, IDENTITIES, PERIOD_KINDS


def _fmt(d: date | None, open_text: str) -> str:
    return d.isoformat() if d else open_text


def validate_policy(data: dict) -> list[str]:
    problems: list[str] = []
    year = data["year"]
    f = data["year_fields"]

    for label, key in [("每连续参保 1 年提高大病限额", "cap_increase_per_year"),
                       ("断保再参保降低大病限额", "cap_break_decrease"),
                       ("零报销次年提高大病限额", "cap_zero_claim_increase")]:
        if f.get(key) is not None and f[key] < 0:
            problems.append(f"{label}不能为负数")
    lo, hi = f.get("payment_day_from"), f.get("payment_day_to")
    for label, v in [("每月可缴费起始日", lo), ("每月可缴费截止日", hi)]:
        if v is not None and not 1 <= v <= 31:
            problems.append(f"{label}应在 1 至 31 之间")
    if lo is not None and hi is not None and lo > hi:
        problems.append("每月可缴费起始日晚于截止日")
    rs, re_ = f.get("registration_starts_on"), f.get("registration_ends_on")
    if rs and re_ and rs > re_:
        problems.append("参保登记开始日期晚于截止日期")
    if f.get("variable_waiting") and (f.get("variable_floor_gap_years") is None) != (f.get("variable_floor_months") is None):
        problems.append("变动等待期下限须同时填写“连续断保年数”和“不少于（月）”")

    problems += check_categories(data["categories"])
    problems += check_periods(data["periods"], year, require_window=True)
    problems += _check_assistance(data["assistance"])
    problems += check_flexible(data.get("flexible_employment") or [])
    return problems


def check_flexible(rates: list[dict]) -> list[str]:
    """The flexible-employment rates: one row per status and part; a monthly figure, where
    given, is the annual one divided by 12."""
    from .rules.flexible import FLEX_COMPONENTS, FLEX_STATUSES

    problems = []
    seen = set()
    for r in rates:
        label = f"灵活就业人员医疗保险“{FLEX_STATUSES[r['status']]}{FLEX_COMPONENTS[r['component']]}”"
        key = (r["status"], r["component"])
        if key in seen:
            problems.append(f"{label}重复")
        seen.add(key)
        for field in ("annual_amount", "monthly_amount"):
            if r.get(field) is not None and r[field] < 0:
                problems.append(f"{label}的缴费标准不能为负数")
        if r.get("monthly_amount") is not None and r.get("annual_amount") is not None \
                and r["monthly_amount"] * 12 != r["annual_amount"]:
            problems.append(f"{label}的月标准 {r['monthly_amount']} 元 ×12 与年标准 {r['annual_amount']} 元不符")
    for status in {s for s, _ in seen}:
        missing = [FLEX_COMPONENTS[c] for c in FLEX_COMPONENTS if (status, c) not in seen]
        if missing:
            problems.append(f"灵活就业人员医疗保险{FLEX_STATUSES[status]}缺少：{'、'.join(missing)}"
                            "（来源未给出的填空值，不要省略）")
    return problems


def check_categories(categories: list[dict]) -> list[str]:
    problems = []
    if not categories:
        problems.append("至少需要一个参保类别")
    seen = set()
    for c in categories:
        name = c.get("name") or CATEGORIES.get(c["code"], c["code"])
        if c["code"] in seen:
            problems.append(f"类别“{name}”重复")
        seen.add(c["code"])
        for label, key in [("个人缴费标准", "personal_standard"), ("财政补助", "fiscal_subsidy")]:
            if c.get(key) is not None and c[key] < 0:
                problems.append(f"类别“{name}”的{label}不能为负数")
        if c.get("born_from") and c.get("born_to") and c["born_from"] > c["born_to"]:
            problems.append(f"类别“{name}”的出生日期起点晚于终点")
    students = [c for c in categories if c.get("student")]
    for i, a in enumerate(students):
        for b in students[i + 1:]:
            if a["student"] == b["student"]:
                problems.append(f"类别“{a['name']}”与“{b['name']}”对应同一学生身份")
    ranged = [c for c in categories if not c.get("student") and c.get("birth_range_in_source", True)]
    for i, a in enumerate(ranged):
        for b in ranged[i + 1:]:
            if _overlap(a.get("born_from"), a.get("born_to"), b.get("born_from"), b.get("born_to")):
                problems.append(f"类别“{a['name']}”与“{b['name']}”的出生日期区间重叠")
    return problems


def check_periods(periods: list[dict], year: int, require_window: bool = False) -> list[str]:
    problems = []
    year_end = date(year, 12, 31)
    if require_window and not any(p["kind"] == "window" for p in periods):
        problems.append("缴费期中没有“集中缴费期”，无法发布")
    for p in periods:
        label = f"{PERIOD_KINDS[p['kind']]}（{_fmt(p.get('starts_on'), '未给出')} 至 {_fmt(p.get('ends_on'), '年度末')}）"
        if p.get("starts_on") and p.get("ends_on") and p["starts_on"] > p["ends_on"]:
            problems.append(f"缴费期{label}开始日期晚于截止日期")
        if p.get("starts_on") and p["starts_on"] > year_end:
            problems.append(f"缴费期{label}开始日期晚于待遇年度末")
        if p.get("ends_on") and p["ends_on"] > year_end:
            problems.append(f"缴费期{label}截止日期晚于待遇年度末")
        if p.get("benefit_start") in ("payment_plus_days", "payment_plus_months"):
            if not p.get("offset"):
                problems.append(f"缴费期{label}的待遇开始规则需要填写 N")
        elif p.get("offset"):
            problems.append(f"缴费期{label}的待遇开始规则不使用 N，应为 0")
    for i, a in enumerate(periods):
        for b in periods[i + 1:]:
            if _overlap(a.get("starts_on"), a.get("ends_on") or year_end,
                        b.get("starts_on"), b.get("ends_on") or year_end):
                problems.append(
                    f"缴费期“{PERIOD_KINDS[a['kind']]} {_fmt(a.get('starts_on'), '—')} 至 {_fmt(a.get('ends_on'), '年度末')}”"
                    f"与“{PERIOD_KINDS[b['kind']]} {_fmt(b.get('starts_on'), '—')} 至 {_fmt(b.get('ends_on'), '年度末')}”重叠")
    return problems


def _check_assistance(tiers: list[dict]) -> list[str]:
    problems = []
    seen = set()
    for t in tiers:
        name = IDENTITIES.get(t["identity"], t["identity"])
        if t["identity"] in seen:
            problems.append(f"资助身份“{name}”重复")
        seen.add(t["identity"])
        if t.get("amount") is not None and t["amount"] < 0:
            problems.append(f"资助身份“{name}”的定额不能为负数")
        pct = t.get("percentage")
        if pct is not None and not (0 <= pct <= 100):
            problems.append(f"资助身份“{name}”的比例应在 0 至 100 之间")
        if t["kind"] == "percentage" and t.get("amount") is not None:
            problems.append(f"资助身份“{name}”按比例资助，不应填写定额")
        if t["kind"] == "fixed" and pct is not None:
            problems.append(f"资助身份“{name}”定额资助，不应填写比例")
        for rng in t.get("age_ranges") or []:
            if len(rng) != 2 or (rng[0] is not None and rng[1] is not None and rng[0] > rng[1]):
                problems.append(f"资助身份“{name}”的年龄区间 {rng} 不正确")
    return problems


def _overlap(a_from, a_to, b_from, b_to) -> bool:
    """Do two inclusive ranges (None = open) share a day?"""
    lo_ok = a_to is None or b_from is None or b_from <= a_to
    hi_ok = b_to is None or a_from is None or a_from <= b_to
    return lo_ok and hi_ok
