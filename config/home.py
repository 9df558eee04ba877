"""The home page (经办工作台) per role, composed from every app's figures.

A *panel* is one figure group: a title, the table of its numbers, the chart drawn from the
same numbers (Chart.js, core/static/core/home.js) and a sheet of the XLSX download.  Counts
over large tables come from the summary rows the engine refreshes (core.figures,
enrollment.figures); the panels read live only small tables (batch runs, policy years,
operation contexts).

- 经办人员 (and every user who may view enrollments): enrollment, payments, assistance,
  rosters, re-registration notices, imports and batches, the December batch — their regions;
- 政策管理员: the policy years per region, published or draft, and the figures left unset;
- 审计人员: the latest operations (who, what, when) and the failed imports and batches.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from django.urls import reverse

from accounts.roles import AUDITOR, CASEWORKER, POLICY_ADMIN
from accounts.scoping import region_codes
from core import clock
from core.figures import refreshed_at, rows_of

PALETTE = ["#1d4f91", "#7ea3d6", "#c0504d", "#9bbb59", "#8064a2", "#f79646", "#4bacc6", "#7f7f7f",
           "#2c7a4b", "#b8860b", "#a0522d"]


@dataclass(frozen=True)
class Link:
    text: str
    url: str

    def __str__(self):
        return self.text


@dataclass
class Panel:
    id: str
    title: str
    headers: list[str]
    rows: list[list] = field(default_factory=list)
    chart: dict | None = None
    empty: str = "暂无数据。"
    note: str = ""
    refreshed: object = None
    links: list[Link] = field(default_factory=list)
    num_cols: tuple[int, ...] = ()  # columns of counts and amounts (right-aligned)

    @property
    def sheet(self) -> str:
        return self.title.split("（")[0][:31]

    @property
    def chart_id(self) -> str:
        return f"{self.id}-chart-data"

    @property
    def cells(self) -> list[list[dict]]:
        """The rows for the template: text, link and alignment of each cell."""
        return [[{"text": str(c), "url": getattr(c, "url", ""), "num": i in self.num_cols} for i, c in enumerate(row)]
                for row in self.rows]


def money(value) -> str:
    return f"{(value or Decimal('0')):.2f}"


def _chart(kind: str, labels, datasets, *, stacked: bool = False) -> dict:
    return {"type": kind, "labels": list(labels), "stacked": stacked,
            "datasets": [{"label": label, "data": list(data), "color": PALETTE[i % len(PALETTE)]}
                         for i, (label, data) in enumerate(datasets)]}


def _names(codes) -> dict[str, str]:
    from policy.models import Region

    return dict(Region.objects.filter(code__in=sorted(codes)).values_list("code", "name"))


def roles_of(user) -> set[str]:
    """The home pages a user sees: by role group; an operator (superuser) sees them all."""
    if user.is_superuser:
        return {CASEWORKER, POLICY_ADMIN, AUDITOR}
    names = set(user.groups.values_list("name", flat=True))
    roles = names & {CASEWORKER, POLICY_ADMIN, AUDITOR}
    if not roles and user.has_perm("enrollment.view_enrollment"):
        roles.add(CASEWORKER)
    return roles


# --- the caseworker's figures -------------------------------------------------------------


def enrollment_panel(codes, years) -> tuple[Panel, list, dict]:
    from enrollment.figures import figures_for

    figures, refreshed = figures_for(codes, years)
    chart_data = {"labels": [f"{f.region} {f.year}" for f in figures],
                  "registered": [f.registered for f in figures], "paid": [f.paid for f in figures]}
    panel = Panel("enrollment", f"参保情况（{years[0]}–{years[-1]} 待遇年度）",
                  ["参保地", "待遇年度", "已登记", "已缴费", "缴费率"],
                  [[f.region, f.year, f.registered, f.paid, f.rate] for f in figures],
                  _chart("bar", chart_data["labels"], [("已登记", chart_data["registered"]),
                                                       ("已缴费", chart_data["paid"])]),
                  empty="暂无参保统计。", refreshed=refreshed, num_cols=(2, 3, 4))
    return panel, figures, chart_data


def payments_panel(codes, today) -> Panel:
    from payments.figures import DAYS, GROUP, window

    first, last = window(today)
    rows = rows_of(GROUP, codes, day_from=first)
    rows = [r for r in rows if r.day <= last]
    cells: dict[tuple, list] = {}
    channels: dict[str, str] = OrderedDict()
    for r in rows:
        cell = cells.setdefault((r.day, r.key), [0, Decimal("0.00")])
        cell[0] += r.count
        cell[1] += r.amount or 0
        channels.setdefault(r.key, r.label)
    days = [first + timedelta(days=i) for i in range(DAYS)]
    datasets = [(label, [cells.get((d, key), [0])[0] for d in days]) for key, label in channels.items()]
    table = [[f"{d:%Y-%m-%d}", channels[key], n, money(amount)] for (d, key), (n, amount) in sorted(cells.items())]
    if table:
        table.append(["合计", "", sum(n for n, _ in cells.values()), money(sum(a for _, a in cells.values()))])
    return Panel("payments", f"近 {DAYS} 天缴费（{first:%m-%d} 至 {last:%m-%d}，按日、按渠道，笔数）",
                 ["缴费日期", "缴费渠道", "笔数", "金额（元）"], table,
                 _chart("bar", [f"{d:%m-%d}" for d in days], datasets, stacked=True) if table else None,
                 empty=f"近 {DAYS} 天没有缴费。", refreshed=refreshed_at(rows), num_cols=(2, 3))


def assisted_panel(codes, years, names) -> Panel:
    from enrollment.figures import ASSISTED

    rows = rows_of(ASSISTED, codes, years=years)
    totals: dict[str, int] = OrderedDict()
    for r in sorted(rows, key=lambda r: (r.year, r.label)):
        label = f"{r.label}（{r.year}）"
        totals[label] = totals.get(label, 0) + r.count
    return Panel("assisted", "资助参保人数与金额（按资金来源）",
                 ["参保地", "待遇年度", "资金来源", "人数", "资助金额（元）"],
                 [[names.get(r.region, r.region), r.year, r.label, r.count, money(r.amount)] for r in rows],
                 _chart("bar", totals.keys(), [("资助人数", totals.values())]) if rows else None,
                 empty="暂无资助参保人员。", refreshed=refreshed_at(rows), num_cols=(3, 4))


def roster_panel(codes, years, names) -> Panel:
    from subsidies.figures import GROUP

    rows = rows_of(GROUP, codes, years=years)
    totals: dict[str, int] = OrderedDict()
    for r in sorted(rows, key=lambda r: (r.year, r.label)):
        label = f"{r.label}（{r.year}）"
        totals[label] = totals.get(label, 0) + r.count
    return Panel("rosters", "困难人员名单人数（按认定部门）", ["地区", "待遇年度", "认定部门", "名单人数"],
                 [[names.get(r.region, r.region), r.year, r.label, r.count] for r in rows],
                 _chart("bar", totals.keys(), [("名单人数", totals.values())]) if rows else None,
                 empty="暂无导入的困难人员名单。", refreshed=refreshed_at(rows), num_cols=(3,))


def reregistration_panel(codes, names) -> Panel:
    from enrollment.figures import REREGISTRATION

    rows = rows_of(REREGISTRATION, codes)
    per: dict[str, int] = OrderedDict()
    for r in rows:
        label = f"{names.get(r.region, r.region)} {r.year}"
        per[label] = per.get(label, 0) + r.count
    table = [[names.get(r.region, r.region), r.year, r.label, r.count] for r in rows]
    if table:
        table.append(["合计", "", "", sum(r.count for r in rows)])
    return Panel("reregistration", "须重新登记、尚未重新登记的人员", ["参保地", "待遇年度", "原因", "人数"], table,
                 _chart("bar", per.keys(), [("尚未重新登记", per.values())]) if rows else None,
                 empty="没有尚待重新登记的人员。", refreshed=refreshed_at(rows), num_cols=(3,),
                 links=[Link("须重新登记人员名单", reverse("admin:enrollment_reregistrationnotice_changelist"))])


def batches_panel(request, *, failed_only: bool = False, days: int = 30) -> Panel:
    """Imports and batches running (or queued) or failed in the last ``days`` days, each linked
    to its page: the runs the user may see (the batch list's own scoping)."""
    from django.contrib import admin
    from django.db.models import Q

    from core.models import BatchRun

    since = clock.now() - timedelta(days=days)
    model_admin = admin.site._registry[BatchRun]
    wanted = Q(status=BatchRun.Status.FAILED, created_at__gte=since)
    if not failed_only:
        wanted |= Q(status__in=BatchRun.ACTIVE)
    runs = list(model_admin.get_queryset(request).filter(wanted).order_by("-created_at", "-id")[:30])
    per: dict[str, list[int]] = OrderedDict()
    table = []
    for run in runs:
        name = str(run)
        label = name.rsplit(" #", 1)[0]
        counts = per.setdefault(label, [0, 0])
        counts[0 if run.status in BatchRun.ACTIVE else 1] += 1
        target = getattr(run, "region_name", None) or "—"
        year = run.params.get("year") if isinstance(run.params, dict) else None
        table.append([Link(name, reverse("admin:core_batchrun_change", args=[run.pk])),
                      f"{target} {year}" if year else target, run.get_status_display(),
                      f"{run.processed}/{run.total}" if run.total else "—",
                      f"{clock_local(run.created_at)}"])
    title = f"近 {days} 天失败的导入与批处理" if failed_only else "正在进行或失败的导入与批处理"
    datasets = [("失败", [c[1] for c in per.values()])]
    if not failed_only:
        datasets.insert(0, ("进行中或排队", [c[0] for c in per.values()]))
    return Panel("batches-failed" if failed_only else "batches", title,
                 ["任务", "对象", "状态", "进度", "创建时间"], table,
                 _chart("bar", per.keys(), datasets, stacked=True) if table else None,
                 empty="没有失败的导入或批处理。" if failed_only else "没有正在进行或失败的导入与批处理。",
                 links=[Link("全部批处理任务", reverse("admin:core_batchrun_changelist"))])


def clock_local(value) -> str:
    from django.utils import timezone

    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M")


def pool_panel(codes, years, names) -> Panel:
    from family_pool.figures import GROUP, batch_states

    states = batch_states(codes, years)
    counted = rows_of(GROUP, codes, years=years)
    by: dict[tuple, dict] = {}
    for r in counted:
        by.setdefault((r.region, r.year), {})[r.key] = r
    table, labels = [], []
    series = OrderedDict((("deducted", "扣款成功"), ("insufficient_balance", "余额不足"),
                          ("skipped_already_paid", "已由其他渠道缴费"), ("failed", "处理失败")))
    data = {k: [] for k in series}
    for s in states:
        cells = by.get((s.region_code, s.year), {})
        deducted = cells.get("deducted")
        insufficient = cells.get("insufficient_balance")
        run = Link(f"任务 #{s.run_id}", reverse("admin:core_batchrun_change", args=[s.run_id])) if s.run_id else "—"
        table.append([s.region, s.year, f"{s.starts_on:%Y-%m-%d}" if s.starts_on else "未定", s.state, s.progress,
                      deducted.count if deducted else 0, money(deducted.amount if deducted else 0),
                      insufficient.count if insufficient else 0, run])
        labels.append(f"{s.region} {s.year}")
        for key in series:
            data[key].append(cells[key].count if key in cells else 0)
    return Panel("pool", "家庭共济缴费批量划扣（12 月）",
                 ["地区", "待遇年度", "划扣开始", "状态", "进度", "扣款成功（人）", "扣款金额（元）", "余额不足（人）", "任务"],
                 table, _chart("bar", labels, [(series[k], data[k]) for k in series], stacked=True) if table else None,
                 empty="您负责的地区在这些年度没有实行家庭共济缴费。", refreshed=refreshed_at(counted),
                 num_cols=(5, 6, 7))


def flexible_panel(codes, years, names) -> Panel:
    from flexible.figures import GROUP

    rows = rows_of(GROUP, codes, years=years)
    labels = list(OrderedDict.fromkeys(f"{names.get(r.region, r.region)} {r.year}" for r in rows))
    statuses = OrderedDict((r.key, r.label) for r in sorted(rows, key=lambda r: r.key))
    counts = {(f"{names.get(r.region, r.region)} {r.year}", r.key): r.count for r in rows}
    datasets = [(label, [counts.get((x, key), 0) for x in labels]) for key, label in statuses.items()]
    return Panel("flexible", "灵活就业人员医疗保险参保（按状态）", ["参保地", "待遇年度", "状态", "人数", "应缴金额（元）"],
                 [[names.get(r.region, r.region), r.year, r.label, r.count, money(r.amount)] for r in rows],
                 _chart("bar", labels, datasets, stacked=True) if rows else None,
                 empty="暂无灵活就业人员参保。", refreshed=refreshed_at(rows), num_cols=(3, 4))


# --- the policy administrator's and the auditor's ----------------------------------------


def policy_panel(request) -> Panel:
    """Policy years per region: published or draft, and the figures the sources leave unset."""
    from django.contrib import admin

    from policy.models import PolicyYear

    model_admin = admin.site._registry[PolicyYear]
    years = (PolicyYear.objects.select_related("region").prefetch_related("category_set", "assistancetier_set")
             .filter(region__policy_region__isnull=True).order_by("region_id", "-year"))
    table, labels, unset_counts = [], [], []
    for py in years:
        unset = model_admin.unset_figures(py)
        count = 0 if unset == "无" else len(unset.split("、"))
        table.append([py.region.name, py.year, py.get_status_display(),
                      f"{clock_local(py.published_at)}" if py.published_at else "—",
                      unset, Link("查看", reverse("admin:policy_policyyear_change", args=[py.pk]))])
        labels.append(f"{py.region.name} {py.year}")
        unset_counts.append(count)
    return Panel("policy", "各地区政策年度（已发布 / 草稿，未设定的数值）",
                 ["地区", "待遇年度", "状态", "发布时间", "未设定（来源未给出）的数值", ""], table,
                 _chart("bar", labels, [("未设定的数值（项）", unset_counts)]) if table else None,
                 empty="尚无政策年度。", note="未设定的数值无法计价：用到它的登记与缴费会被拒绝，并说明缺少哪一项。",
                 links=[Link("政策年度", reverse("admin:policy_policyyear_changelist"))])


def changes_panel(limit: int = 15) -> Panel:
    """The latest operations recorded by the audit trail (one row per operation: who, what)."""
    from pghistory.models import Context

    from core import audit_display as show

    contexts = list(Context.objects.order_by("-created_at")[:limit])
    per: dict[str, int] = OrderedDict()
    table = []
    for ctx in contexts:
        who = _who(ctx.metadata or {})
        per[who] = per.get(who, 0) + 1
        table.append([show.local_time(ctx.created_at), who, show.action_text(ctx.metadata)])
    return Panel("changes", f"最近的操作（最新 {limit} 次）", ["时间", "操作人", "操作"], table,
                 _chart("bar", per.keys(), [("操作次数", per.values())]) if table else None,
                 empty="暂无操作记录。", links=[Link("全部变更记录", reverse("admin:pghistory_events_changelist"))])


def _who(meta: dict) -> str:
    """Who acted, in words: the user's name; a command or a scheduled task as 系统 with what it
    does (its code name is never shown); an integration as its token's name."""
    from core import audit_display as show

    if meta.get("username") or meta.get("user"):
        return show.who(meta)
    actor = str(meta.get("actor") or "")
    if actor.startswith("api token "):
        return f"接口令牌 {actor[len('api token '):]}"
    words = show.ACTIONS.get(actor.split(" ")[-1]) if actor else None
    return f"系统（{words}）" if words else "系统"


# --- the page ----------------------------------------------------------------------------


def home(request) -> dict:
    """The panels of the user's home page and the context the template needs."""
    user = request.user
    roles = roles_of(user)
    codes = region_codes(user)
    today = clock.today()
    years = [today.year - 1, today.year, today.year + 1]
    panels: list[Panel] = []
    context: dict = {"figure_years": years, "figure_scope": "全部地区" if codes is None else "您负责的地区",
                     "figures": [], "figures_refreshed": None, "chart_data": None}
    if CASEWORKER in roles and user.has_perm("enrollment.view_enrollment"):
        names = _names(codes) if codes is not None else _names(_all_codes())
        enrollment, figures, chart_data = enrollment_panel(codes, years)
        context.update(figures=figures, figures_refreshed=enrollment.refreshed, chart_data=chart_data)
        panels += [enrollment, payments_panel(codes, today), assisted_panel(codes, years, names),
                   roster_panel(codes, years, names), reregistration_panel(codes, names),
                   batches_panel(request), pool_panel(codes, [today.year, today.year + 1], names),
                   flexible_panel(codes, years, names)]
    if POLICY_ADMIN in roles and user.has_perm("policy.view_policyyear"):
        panels.append(policy_panel(request))
    if AUDITOR in roles:
        panels += [changes_panel(), batches_panel(request, failed_only=True)]
    context.update(panels=panels, roles=sorted(roles))
    return context


def _all_codes():
    from policy.models import Region

    return Region.objects.values_list("code", flat=True)
