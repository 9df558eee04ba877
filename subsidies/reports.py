"""资助资金报表: who is assisted in a region and year, and which fund pays for it.

Scope of a report for ``region``: the enrollments of the region **and of the
counties that run its policy** (``policy.selectors.policy_members``): 吕梁
141100 covers 141100 and 孝义 141181; a county asked for itself (141181) covers
only itself.  Counted: enrollments of the year that are not cancelled and carry
an assistance identity (the single highest one the rules applied).  "Paid" is
status 已缴费, "unpaid" status 已登记（待缴费）.

The funding source (资金来源) and the kind (全额/定额/按比例资助) of each
identity come from the published policy tier of the region and year; a tier
without a source says 来源文件未给出.

Pending identities (certified, person not registered): identities certified
by the region (and its counties, for a city) for the year, still on the
department's list, whose ID number has no enrollment of the year that is not
cancelled anywhere under the same policy.  People are counted per identity: a
person on two rosters counts under each.

Money is Decimal in yuan with two places throughout; the tax bureau's file
(特殊缴费标识) and the XLSX are written here too, never with a live formula.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Count, Exists, OuterRef, Sum

from enrollment.idnumbers import mask
from enrollment.models import Enrollment, EnrollmentStatus
from enrollment.resources import neutralise_formula
from policy.models import Region
from policy.rules.types import IDENTITIES
from policy.selectors import policy_members, policy_region, published_spec

from .models import AssistanceIdentity

ZERO = Decimal("0.00")
CENT = Decimal("0.01")
NOT_IN_SOURCE = "来源文件未给出"
KIND_NAMES = {"full": "全额资助", "fixed": "定额资助", "percentage": "按比例资助"}
STATUS_NAMES = dict(EnrollmentStatus.choices)

# The tax bureau's special-contribution flag (特殊缴费标识), fixed values (README):
FLAG_FULL = "1"  # fully assisted: the person pays 0
FLAG_PARTIAL = "2"  # partially assisted: the person pays part of the standard

TAX_HEADER = ["身份证号码", "姓名", "参保地", "待遇年度", "资助类别", "资助类型", "个人缴费标准",
              "资助金额", "个人应缴金额", "特殊缴费标识", "资金来源"]


def money(value) -> Decimal:
    """Yuan with two places (None = 0)."""
    return (value or ZERO).quantize(CENT, rounding=ROUND_HALF_UP)


def money_text(value) -> str:
    return f"{money(value):.2f}"


@dataclass(frozen=True)
class Tier:
    funding_source: str
    kind: str


@dataclass
class IdentityRow:
    identity: str
    name: str
    funding_source: str
    kind_name: str
    people: int = 0
    assistance: Decimal = ZERO
    self_pay: Decimal = ZERO  # what the people pay themselves (amount due)
    paid_people: int = 0
    paid_assistance: Decimal = ZERO
    unpaid_people: int = 0
    unpaid_assistance: Decimal = ZERO


@dataclass
class SourceRow:
    funding_source: str
    people: int = 0
    assistance: Decimal = ZERO


@dataclass
class PendingRow:
    identity: str
    name: str
    people: int


@dataclass
class FundingReport:
    region: str
    region_name: str
    year: int
    members: list[str]
    identities: list[IdentityRow] = field(default_factory=list)
    sources: list[SourceRow] = field(default_factory=list)
    total: IdentityRow = None
    pending: list[PendingRow] = field(default_factory=list)
    member_names: list[str] = field(default_factory=list)  # 吕梁市（141100） for the page

    def as_dict(self) -> dict:
        """JSON-ready: money as "0.00" strings."""
        def row(r) -> dict:
            return {k: (money_text(v) if isinstance(v, Decimal) else v) for k, v in vars(r).items()}

        total = row(self.total)
        for key in ("identity", "name", "funding_source", "kind_name"):
            total.pop(key)
        return {"region": self.region, "region_name": self.region_name, "year": self.year,
                "regions": self.members, "by_identity": [row(r) for r in self.identities],
                "by_funding_source": [row(r) for r in self.sources], "total": total,
                "pending": [row(r) for r in self.pending],
                "pending_people": sum(r.people for r in self.pending)}


def _tiers(region: str, year: int) -> dict[str, Tier]:
    spec = published_spec(region, year)  # QuoteError("policy_missing") without a policy
    return {t.identity: Tier(t.funding_source.strip() or NOT_IN_SOURCE, t.kind) for t in spec.assistance}


def _tier(tiers: dict[str, Tier], identity: str) -> Tier:
    return tiers.get(identity) or Tier(NOT_IN_SOURCE, "")


def assisted(region: str, year: int):
    """The assisted enrollments counted by the reports (see the module's docstring)."""
    return (Enrollment.objects.filter(region_id__in=policy_members(region), year=year)
            .exclude(status=EnrollmentStatus.CANCELLED).exclude(assistance_identity=""))


def funding_report(region: str, year: int) -> FundingReport:
    place = Region.objects.get(code=region)
    tiers = _tiers(region, year)
    order = {code: i for i, code in enumerate(tiers)}
    members = policy_members(region)
    names = dict(Region.objects.filter(code__in=members).values_list("code", "name"))
    report = FundingReport(region=region, region_name=place.name, year=year, members=members,
                           member_names=[f"{names.get(c, '')}（{c}）" for c in members])
    rows: dict[str, IdentityRow] = {}
    groups = (assisted(region, year).values("assistance_identity", "status")
              .annotate(n=Count("id"), assistance=Sum("assistance_amount"), due=Sum("amount_due")))
    for g in groups:
        code = g["assistance_identity"]
        tier = _tier(tiers, code)
        r = rows.setdefault(code, IdentityRow(code, IDENTITIES.get(code, code), tier.funding_source,
                                              KIND_NAMES.get(tier.kind, "")))
        _add(r, g["status"], g["n"], money(g["assistance"]), money(g["due"]))
    report.identities = sorted(rows.values(), key=lambda r: (order.get(r.identity, len(order)), r.identity))
    sources: dict[str, SourceRow] = {}
    for r in report.identities:
        s = sources.setdefault(r.funding_source, SourceRow(r.funding_source))
        s.people += r.people
        s.assistance += r.assistance
    report.sources = list(sources.values())
    total = IdentityRow("", "合计", "", "")
    for r in report.identities:
        for key in ("people", "assistance", "self_pay", "paid_people", "paid_assistance",
                    "unpaid_people", "unpaid_assistance"):
            setattr(total, key, getattr(total, key) + getattr(r, key))
    report.total = total
    report.pending = _pending(region, year, members, order)
    return report


def _add(r: IdentityRow, status: str, n: int, assistance: Decimal, due: Decimal) -> None:
    r.people += n
    r.assistance += assistance
    r.self_pay += due
    if status == EnrollmentStatus.PAID:
        r.paid_people += n
        r.paid_assistance += assistance
    else:
        r.unpaid_people += n
        r.unpaid_assistance += assistance


def _pending(region: str, year: int, members: list[str], order: dict[str, int]) -> list[PendingRow]:
    policy = policy_region(region)
    under_policy = policy_members(policy.code if policy else region)
    registered = (Enrollment.objects.filter(resident__id_number=OuterRef("id_number"), year=year,
                                            region_id__in=under_policy)
                  .exclude(status=EnrollmentStatus.CANCELLED))
    counts = (AssistanceIdentity.objects.filter(region_id__in=members, year=year, removed_at__isnull=True)
              .exclude(Exists(registered)).values("identity")
              .annotate(people=Count("id_number", distinct=True)))
    rows = [PendingRow(c["identity"], IDENTITIES.get(c["identity"], c["identity"]), c["people"]) for c in counts]
    return sorted(rows, key=lambda r: (order.get(r.identity, len(order)), r.identity))


@dataclass(frozen=True)
class AssistedPerson:
    id_number: str
    name: str
    region: str
    year: int
    identity: str
    identity_name: str
    kind_name: str
    funding_source: str
    personal_standard: Decimal
    assistance: Decimal
    amount_due: Decimal
    status: str

    @property
    def status_name(self) -> str:
        return STATUS_NAMES.get(self.status, self.status)

    @property
    def tax_flag(self) -> str:
        return FLAG_FULL if self.amount_due == ZERO else FLAG_PARTIAL


def assisted_people(region: str, year: int) -> Iterator[AssistedPerson]:
    """One row per assisted enrollment, by region and ID number (full ID numbers:
    mask them where the reader may not see them)."""
    tiers = _tiers(region, year)
    rows = (assisted(region, year).order_by("region_id", "resident__id_number")
            .values_list("resident__id_number", "resident__name", "region_id", "year", "assistance_identity",
                         "personal_standard", "assistance_amount", "amount_due", "status"))
    for number, name, code, y, identity, standard, assistance, due, status in rows.iterator(chunk_size=2000):
        tier = _tier(tiers, identity)
        yield AssistedPerson(number, name, code, y, identity, IDENTITIES.get(identity, identity),
                             KIND_NAMES.get(tier.kind, ""), tier.funding_source, money(standard),
                             money(assistance), money(due), status)


def tax_flag_rows(region: str, year: int) -> Iterator[list[str]]:
    """The tax bureau's 特殊缴费标识 rows (after TAX_HEADER), every cell text, none a formula."""
    for p in assisted_people(region, year):
        yield [neutralise_formula(v) for v in (
            p.id_number, p.name, p.region, str(p.year), p.identity_name, p.kind_name,
            money_text(p.personal_standard), money_text(p.assistance), money_text(p.amount_due),
            p.tax_flag, p.funding_source)]


def write_tax_flags(out, region: str, year: int) -> int:
    """Write the CSV to a text stream opened with newline="" (the BOM is written
    here, so open files as plain UTF-8); returns the number of rows."""
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(TAX_HEADER)
    n = 0
    for row in tax_flag_rows(region, year):
        writer.writerow(row)
        n += 1
    return n


IDENTITY_HEADER = ["资助身份", "资金来源", "资助类型", "人数", "资助金额合计", "个人应缴合计",
                   "已缴费人数", "已缴费资助金额", "待缴费人数", "待缴费资助金额"]
SOURCE_HEADER = ["资金来源", "人数", "资助金额合计"]
PEOPLE_HEADER = ["身份证号码", "姓名", "参保地", "待遇年度", "资助身份", "资助类型", "资金来源",
                 "个人缴费标准", "资助金额", "个人应缴金额", "状态"]


def identity_cells(r: IdentityRow) -> list:
    return [r.name, r.funding_source, r.kind_name, r.people, r.assistance, r.self_pay,
            r.paid_people, r.paid_assistance, r.unpaid_people, r.unpaid_assistance]


def write_xlsx(out, report: FundingReport, *, full_id_numbers: bool = True) -> None:
    """The report as a workbook: 按资助身份 / 按资金来源 / 资助人员名单 (money as numbers
    with two decimals, ID numbers as text)."""
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    sheets = [("按资助身份", IDENTITY_HEADER,
               [identity_cells(r) for r in report.identities] + [identity_cells(report.total)]),
              ("按资金来源", SOURCE_HEADER,
               [[s.funding_source, s.people, s.assistance] for s in report.sources]
               + [["合计", report.total.people, report.total.assistance]])]
    for title, header, rows in sheets:
        _sheet(wb, title, header, rows)
    people = ([p.id_number if full_id_numbers else mask(p.id_number), p.name, p.region, p.year, p.identity_name,
               p.kind_name, p.funding_source, p.personal_standard, p.assistance, p.amount_due, p.status_name]
              for p in assisted_people(report.region, report.year))
    _sheet(wb, "资助人员名单", PEOPLE_HEADER, people)
    wb.save(out)


def _sheet(wb, title, header, rows) -> None:
    from openpyxl.cell import WriteOnlyCell

    ws = wb.create_sheet(title)
    ws.append(header)
    for row in rows:
        cells = []
        for value in row:
            cell = WriteOnlyCell(ws, value=neutralise_formula(value))
            if isinstance(value, Decimal):
                cell.number_format = "0.00"
            cells.append(cell)
        ws.append(cells)
