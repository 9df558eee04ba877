"""代收缴费通知单: a school's or a village committee's payment notice with its list (issue 12).

For a collector, a region and a benefit year: the people it collects for, what each owes on
the business date and the total.  Who a collector collects for is read from the data:

- a school (学校): the residents whose 学校 is that school;
- a village or community committee (村/社区委员会): the residents it has paid for before
  (a payment of payer kind 集中代收单位 naming it, in the ledger).

Each must hold a live registration for the year (not cancelled).  An unpaid one is priced by
the rules on the business date, as a channel's dues query is (never read from a stored
amount); a refusal (an unset figure, a closed payment period) is shown in words beside the
person, and the total counts only what could be priced.  ID numbers are masked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from enrollment.idnumbers import mask
from enrollment.models import EnrollmentStatus
from enrollment.selectors import live_year_enrollments, quote_requests_for, schools_enrolled
from enrollment.services import EnrollmentError, run_quote, spec_for

from .models import Payment, PayerKind

KINDS = {"school": "学校", "village": "村（社区）委员会"}
LIMIT = 5000  # people on one notice
CHUNK = 1000  # people priced per batch of facts


class NoticeError(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Line:
    seq: int
    name: str
    masked_id: str
    status: str  # 待缴费 / 已缴费
    amount: Decimal | None  # owed on the business date (unpaid and priced)
    note: str = ""


@dataclass
class Notice:
    region: str
    region_name: str
    year: int
    kind: str
    kind_name: str
    collector: str
    issued_on: date
    lines: list[Line] = field(default_factory=list)

    @property
    def total(self) -> Decimal:
        return sum((ln.amount for ln in self.lines if ln.amount is not None), Decimal("0.00"))

    @property
    def owing(self) -> int:
        return sum(1 for ln in self.lines if ln.amount is not None)

    @property
    def paid(self) -> int:
        return sum(1 for ln in self.lines if ln.status == "已缴费")

    @property
    def unpriced(self) -> int:
        return sum(1 for ln in self.lines if ln.status == "待缴费" and ln.amount is None)


def members(*, region: str, year: int, kind: str, collector: str):
    """The live enrollments of the year of the people ``collector`` collects for."""
    if kind == "school":
        return live_year_enrollments(region=region, year=year, school=collector)
    numbers = (Payment.objects.filter(region_id=region, payer_kind=PayerKind.COLLECTOR, payer_name=collector)
               .values("id_number"))
    return live_year_enrollments(region=region, year=year, id_numbers=numbers)


def collectors(*, region: str, year: int) -> list[tuple[str, str]]:
    """(kind, name) of the collectors known in the region: schools of residents registered for
    the year, committees that have collected payments there."""
    schools = schools_enrolled(region=region, year=year)
    villages = (Payment.objects.filter(region_id=region, payer_kind=PayerKind.COLLECTOR).exclude(payer_name="")
                .values_list("payer_name", flat=True).distinct().order_by("payer_name")[:500])
    return [("school", s) for s in schools] + [("village", v) for v in villages]


def notice_for(*, region: str, region_name: str, year: int, kind: str, collector: str, today: date) -> Notice:
    """The notice on ``today`` (the business date).  NoticeError when the request is bad or
    nobody is found."""
    collector = (collector or "").strip()
    if kind not in KINDS:
        raise NoticeError("invalid_input", "请选择代收单位类型：学校或村（社区）委员会")
    if not collector:
        raise NoticeError("invalid_input", f"请填写{KINDS[kind]}名称")
    if len(collector) > 100:
        raise NoticeError("invalid_input", "代收单位名称过长（最多 100 字）")
    rows = list(members(region=region, year=year, kind=kind, collector=collector)
                .order_by("resident__name", "resident__id_number")[:LIMIT + 1])
    if not rows:
        raise NoticeError("not_found", f"{region_name}{year} 年度没有经{collector}登记或代收的参保人员")
    if len(rows) > LIMIT:
        raise NoticeError("too_many", f"人数超过 {LIMIT} 人，请按年级或村组分开打印")
    owed = _priced([e for e in rows if e.status != EnrollmentStatus.PAID], year, today)
    notice = Notice(region, region_name, year, kind, KINDS[kind], collector, today)
    for i, e in enumerate(rows, start=1):
        r = e.resident
        if e.status == EnrollmentStatus.PAID:
            paid = e.paid_amount if e.paid_amount is not None else e.amount_due
            notice.lines.append(Line(i, r.name, mask(r.id_number), "已缴费", None,
                                     f"已于 {e.paid_on:%Y-%m-%d} 缴费 {paid:.2f} 元" if e.paid_on else "已缴费"))
        else:
            amount, note = owed[r.id_number]
            notice.lines.append(Line(i, r.name, mask(r.id_number), "待缴费", amount, note))
    return notice


def _priced(enrollments, year: int, today: date) -> dict[str, tuple[Decimal | None, str]]:
    """ID number -> (amount owed on ``today``, or None with the reason in words)."""
    out: dict[str, tuple[Decimal | None, str]] = {}
    specs: dict[str, object] = {}
    for start in range(0, len(enrollments), CHUNK):
        chunk = enrollments[start:start + CHUNK]
        requests = quote_requests_for([e.resident for e in chunk], year, today)
        for e in chunk:
            number = e.resident.id_number
            try:
                if e.region_id not in specs:
                    specs[e.region_id] = spec_for(e.region_id, year)
                # the amount the rules price on the day; a day-of-month limit on paying (吕梁: 1–25)
                # says when to pay, not how much, so it is not asked here
                out[number] = (run_quote(specs[e.region_id], requests[number]).amount_due, "")
            except EnrollmentError as exc:
                out[number] = (None, f"今日无法计算应缴金额：{exc.message}")
    return out
