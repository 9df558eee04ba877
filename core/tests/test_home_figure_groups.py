"""Issue 12, the home page's figure groups: each app's refresher recounts its own tables into
core's summary (core.figures) with exact values; the page of each role reads those rows (never
the large tables) for the user's regions, with a chart, a table and an XLSX sheet per group."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from io import BytesIO
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from openpyxl import load_workbook

from accounts.roles import POLICY_ADMIN
from core import figures as store
from core.models import BatchRun, Figure
from core.tasks import refresh_figures
from enrollment import figures as enrollment_figures
from enrollment.models import Enrollment, EnrollmentStatus, ReregistrationNotice
from enrollment.tests.support import PASSWORD, auditor, caseworker, paid_row, person
from family_pool import figures as pool_figures
from family_pool.batch import run_pool_batch
from family_pool.tests.test_batch import AT, families
from payments import figures as payment_figures
from subsidies import figures as roster_figures
from subsidies.models import AssistanceIdentity

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("policies")]
SH = ZoneInfo("Asia/Shanghai")


def cells(group):
    return sorted((f.region, f.year, f.day, f.key, f.label, f.count, f.amount)
                  for f in Figure.objects.filter(group=group))


# --- the refreshers ---------------------------------------------------------------------------


@pytest.fixture
def pool_world(settings):
    """The December batch of test_batch (Shanghai 2025: 5 deducted for 1775.00, 2 short, 1 paid by
    WeChat on 12-21 before the batch), the business date 2025-01-20: the 30 days are
    2024-12-22 … 2025-01-20, so the batch's payments (12-22) count and the WeChat one does not."""
    fam = families()
    summary = run_pool_batch(region="310000", year=2025, at=AT)
    settings.BUSINESS_DATE = date(2025, 1, 20)
    return fam, summary


def test_payments_per_day_and_channel_over_the_last_30_days(pool_world):
    assert payment_figures.window() == (date(2024, 12, 22), date(2025, 1, 20))
    assert payment_figures.refresh() == 1
    assert cells("payments_daily") == [("310000", None, date(2024, 12, 22), "family_pool", "家庭共济", 5,
                                        Decimal("1775.00"))]
    # a day earlier the WeChat payment of 12-21 is inside the window
    payment_figures.refresh(today=date(2025, 1, 19))
    assert cells("payments_daily") == [
        ("310000", None, date(2024, 12, 21), "wechat", "微信", 1, Decimal("355.00")),
        ("310000", None, date(2024, 12, 22), "family_pool", "家庭共济", 5, Decimal("1775.00"))]


def test_the_december_batch_decisions_and_state(pool_world):
    _, summary = pool_world
    assert pool_figures.refresh() == 3
    assert cells("pool_deductions") == [
        ("310000", 2025, None, "deducted", "已扣款", 5, Decimal("1775.00")),
        ("310000", 2025, None, "insufficient_balance", "余额不足", 2, Decimal("710.00")),
        ("310000", 2025, None, "skipped_already_paid", "已由其他渠道缴费", 1, Decimal("355.00"))]
    [state] = pool_figures.batch_states({"310000"}, [2025, 2026])
    run = BatchRun.objects.get(pk=summary["run_id"])
    assert (state.region, state.year, state.starts_on, state.state, state.run_id) == (
        "上海市", 2025, date(2024, 12, 21), "已完成", run.pk)
    assert state.progress == f"{run.processed}/{run.total}" and run.total > 0
    # Ningbo offers 共济缴费 but its policy names no batch date: said so, never guessed
    [ningbo] = pool_figures.batch_states({"330200"}, [2025])
    assert (ningbo.region, ningbo.starts_on, ningbo.state, ningbo.progress, ningbo.run_id) == (
        "宁波市", None, "未开始（政策未定划扣日期）", "—", None)
    assert pool_figures.batch_states({"310000"}, [2030]) == []  # no policy year: nothing to show


def test_a_countys_caseworker_sees_the_citys_december_batch():
    from policy.models import PolicyYear

    PolicyYear.objects.filter(region_id="141100", year=2026).update(pool_premium_payment=True,
                                                                    pool_batch_starts_on=date(2025, 12, 21))
    [state] = pool_figures.batch_states({"141181"}, [2026])
    assert (state.region, state.region_code, state.starts_on, state.state) == (
        "吕梁市", "141100", date(2025, 12, 21), "未开始（2025-12-21 起自动划扣）")


def test_assisted_people_and_amounts_by_funding_source(settings):
    def assisted(area, birth, seq, region, year, identity, amount, status=EnrollmentStatus.PAID):
        r = person(area, birth, seq, name=f"资助{seq}", today=date(2025, 11, 1))
        e = paid_row(r, year, region=region)
        Enrollment.objects.filter(pk=e.pk).update(assistance_identity=identity, assistance_amount=Decimal(amount))
        if status == EnrollmentStatus.CANCELLED:
            Enrollment.objects.filter(pk=e.pk).update(status=status, cancelled_at=timezone.now(),
                                                      cancel_reason="户籍迁出")
        return e

    assisted("330203", "19600101", "011", "330200", 2025, "dibao", "400.00")
    assisted("330203", "19600102", "021", "330200", 2025, "tekun", "400.00")
    assisted("330203", "19600103", "031", "330200", 2025, "dibao", "400.00", EnrollmentStatus.CANCELLED)
    assisted("330203", "19600104", "041", "330200", 2025, "dibao", "0.00")  # no money granted: not counted
    assisted("330203", "19600107", "071", "330200", 2025, "monitored", "100.00")  # no Ningbo tier names a source
    # 孝义 runs 吕梁's policy: its tiers name the funding source
    assisted("141181", "19600105", "051", "141181", 2026, "dibao", "320.00")
    assisted("141181", "19600106", "061", "141181", 2026, "monitored", "280.00")
    assert enrollment_figures.assisted_refresh() == 3
    assert cells("assisted") == [
        ("141181", 2026, None, "医疗救助资金", "医疗救助资金", 2, Decimal("600.00")),
        ("330200", 2025, None, "政府全额补助", "政府全额补助", 2, Decimal("800.00")),
        ("330200", 2025, None, "来源文件未给出", "来源文件未给出", 1, Decimal("100.00"))]


def test_reregistration_notices_outstanding():
    a = person("330203", "19700101", "011", name="甲", today=date(2025, 11, 1))
    b = person("330203", "19700102", "021", name="乙", today=date(2025, 11, 1))
    c = person("330203", "19700103", "031", name="丙", today=date(2025, 11, 1))
    d = person("630102", "19700104", "041", name="丁", today=date(2025, 11, 1))
    for r, reason in ((a, "permit_expired"), (b, "permit_expired"), (c, "category_changed"), (d, "not_eligible")):
        ReregistrationNotice.objects.create(resident=r, region_id=r.region_id, year=2026, reason=reason)
    paid_row(a, 2026)  # registered again: no longer outstanding
    e = paid_row(c, 2026)  # registered, then cancelled: still outstanding
    Enrollment.objects.filter(pk=e.pk).update(status="cancelled", cancelled_at=timezone.now(), cancel_reason="错登")
    assert enrollment_figures.reregistration_refresh() == 3
    assert cells("reregistration") == [
        ("330200", 2026, None, "category_changed", "参保类别变化", 1, None),
        ("330200", 2026, None, "permit_expired", "外地户籍居住证失效", 1, None),
        ("630100", 2026, None, "not_eligible", "不再符合参保条件", 1, None)]


def test_roster_identities_per_department():
    def identity(number, identity, department="civil_affairs", removed=False):
        AssistanceIdentity.objects.create(id_number=number, name="某", region_id="141100", year=2026,
                                          identity=identity, department=department,
                                          removed_at=timezone.now() if removed else None)

    identity("141102196001010011", "dibao")
    identity("141102196001010011", "tekun")  # one person, two identities: counted once
    identity("141102196001020021", "dibao")
    identity("141102196001030031", "dibao", removed=True)  # no longer on the roster
    identity("141102196001040041", "monitored", department="rural_revitalisation")
    identity("141102196001050051", "dibao", department="")
    assert roster_figures.refresh() == 3
    assert cells("roster_identities") == [
        ("141100", 2026, None, "-", "未注明认定部门", 1, None),
        ("141100", 2026, None, "civil_affairs", "民政部门", 2, None),
        ("141100", 2026, None, "rural_revitalisation", "乡村振兴部门", 1, None)]


def test_a_second_refresh_replaces_the_group():
    now = timezone.now()
    store.replace("g", [store.Row(region="330200", key="a", label="甲", count=3)], now=now)
    store.replace("g", [store.Row(region="330200", key="b", label="乙", count=4)], now=now)
    assert list(Figure.objects.filter(group="g").values_list("key", "count")) == [("b", 4)]


def test_the_beat_task_runs_every_refresher_and_survives_a_broken_one(settings):
    settings.FIGURE_REFRESHERS = ["payments.figures.refresh", "no.such.module.refresh",
                                  "enrollment.figures.reregistration_refresh"]
    Figure.objects.create(group="payments_daily", region="330200", key="old", label="旧", count=9,
                          refreshed_at=timezone.now())
    out = refresh_figures()
    assert out["payments.figures.refresh"] == 0 and out["enrollment.figures.reregistration_refresh"] == 0
    assert str(out["no.such.module.refresh"]).startswith("失败：")
    assert not Figure.objects.filter(group="payments_daily").exists()  # refreshed despite the broken one


def test_every_group_is_configured_and_every_refresher_imports(settings):
    from django.utils.module_loading import import_string

    assert settings.FIGURE_REFRESHERS == [
        "enrollment.figures.figures_refresh", "enrollment.figures.assisted_refresh",
        "enrollment.figures.reregistration_refresh", "payments.figures.refresh", "subsidies.figures.refresh",
        "family_pool.figures.refresh", "flexible.figures.refresh"]
    for path in settings.FIGURE_REFRESHERS:
        assert callable(import_string(path))


# --- the pages ------------------------------------------------------------------------------

BIG_TABLES = ("enrollment_enrollment", "payments_payment", "family_pool_pooldeduction",
              "subsidies_assistanceidentity", "enrollment_reregistrationnotice", "enrollment_resident")


def table_of(html: str, panel: str) -> str:
    return html.split(f'id="{panel}-figures"')[1].split("</table>")[0]


def test_the_caseworkers_home_page_reads_only_summaries_of_their_regions(client, pool_world):
    refresh_figures()
    Figure.objects.create(group="payments_daily", region="330200", day=date(2025, 1, 2), key="wechat",
                          label="微信", count=7, amount=Decimal("2800.00"), refreshed_at=timezone.now())
    client.force_login(caseworker("cw_sh", "310000"))
    with CaptureQueriesContext(connection) as queries:
        resp = client.get("/admin/")
    assert resp.status_code == 200
    touched = [q["sql"] for q in queries.captured_queries if any(f'"{t}"' in q["sql"] or f" {t} " in q["sql"]
                                                                 for t in BIG_TABLES)]
    assert touched == []
    html = resp.content.decode()
    ids = [p.id for p in resp.context["panels"]]
    assert ids == ["enrollment", "payments", "assisted", "rosters", "reregistration", "batches", "pool", "flexible"]
    payments = table_of(html, "payments")
    assert ('<tr><td>2024-12-22</td><td>家庭共济</td><td class="num">5</td><td class="num">1775.00</td></tr>'
            in payments)
    assert "2800.00" not in payments  # Ningbo's payments are not this caseworker's
    pool = table_of(html, "pool")
    run_id = pool_world[1]["run_id"]
    assert (f'<td>上海市</td><td>2025</td><td>2024-12-21</td><td>已完成</td>' in pool
            and '<td class="num">5</td><td class="num">1775.00</td><td class="num">2</td>' in pool
            and f'<a href="/admin/core/batchrun/{run_id}/change/">任务 #{run_id}</a>' in pool)
    assert 'id="payments-chart-data"' in html and 'data-chart="pool-chart-data"' in html
    chart = resp.context["panels"][1].chart
    assert chart["labels"][0] == "12-22" and len(chart["labels"]) == 30
    assert chart["datasets"] == [{"label": "家庭共济", "data": [5] + [0] * 29, "color": "#1d4f91"}]
    assert "policy" not in ids and "changes" not in ids


def test_the_download_has_a_sheet_per_group(client, pool_world):
    refresh_figures()
    client.force_login(caseworker("cw_sh_x", "310000"))
    book = load_workbook(BytesIO(client.get("/admin/figures.xlsx").content))
    assert book.sheetnames == ["参保情况", "近 30 天缴费", "资助参保人数与金额", "困难人员名单人数",
                               "须重新登记、尚未重新登记的人员", "正在进行或失败的导入与批处理", "家庭共济缴费批量划扣",
                               "灵活就业人员医疗保险参保"]
    rows = list(book["近 30 天缴费"].iter_rows(values_only=True))
    assert rows == [("缴费日期", "缴费渠道", "笔数", "金额（元）"), ("2024-12-22", "家庭共济", 5, "1775.00"),
                    ("合计", None, 5, "1775.00")]


def test_a_failed_import_shows_on_the_caseworkers_and_the_auditors_page(client):
    user = caseworker("cw_fail", "330200")
    run = BatchRun.objects.create(kind="import_residents", status="failed", params={"file": "a.xlsx"},
                                  created_by=user)
    other = BatchRun.objects.create(kind="import_residents", status="failed", params={"file": "b.xlsx"})
    client.force_login(user)
    html = client.get("/admin/").content.decode()
    batches = table_of(html, "batches")
    assert f'<a href="/admin/core/batchrun/{run.pk}/change/">导入参保人 #{run.pk}</a>' in batches
    assert f"#{other.pk}<" not in batches  # a run of nobody in the user's regions
    client.force_login(auditor("aud_home"))
    resp = client.get("/admin/")
    assert [p.id for p in resp.context["panels"]] == ["changes", "batches-failed"]
    failed = table_of(resp.content.decode(), "batches-failed")
    assert f"导入参保人 #{run.pk}" in failed and f"导入参保人 #{other.pk}" in failed


def test_the_auditor_sees_the_latest_operations(client):
    from enrollment.services import resident_create
    from enrollment.tests.support import number

    user = caseworker("cw_ops", "330200")
    resident_create(id_number=number("330203", "19800101", "017"), name="张一", region="330200",
                    today=date(2025, 11, 1), actor=user)
    client.force_login(auditor("aud_ops"))
    resp = client.get("/admin/")
    panel = resp.context["panels"][0]
    assert panel.rows[0][1:] == ["cw_ops", "新增参保人"]
    assert '<a href="/admin/pghistory/events/">全部变更记录</a>' in resp.content.decode()


def test_the_policy_administrators_home_page(client):
    user = get_user_model().objects.create_user(username="pa_home", password=PASSWORD, is_staff=True)
    user.groups.add(Group.objects.get(name=POLICY_ADMIN))
    from policy.services import clone_policy_year

    clone_policy_year(region="330200", from_year=2025, to_year=2026)  # a draft
    client.force_login(user)
    resp = client.get("/admin/")
    assert [p.id for p in resp.context["panels"]] == ["policy"]
    rows = {(r[0], r[1]): (r[2], r[4]) for r in resp.context["panels"][0].rows}
    assert rows[("吕梁市", 2026)] == ("已发布", "城乡居民财政补助、优抚对象资助标准")
    assert rows[("宁波市", 2025)] == ("已发布", "无")
    assert rows[("宁波市", 2026)] == ("草稿", "无")
    assert rows[("西宁市", 2025)] == ("已发布", "城乡居民财政补助")
    chart = resp.context["panels"][0].chart
    assert chart["datasets"][0]["data"][chart["labels"].index("吕梁市 2026")] == 2
    html = resp.content.decode()
    assert "<td>吕梁市</td><td>2026</td><td>已发布</td>" in html and 'id="policy-chart-data"' in html


@pytest.mark.parametrize("meta,shown", [
    ({"user": 3, "username": "zhoujing"}, "zhoujing"),
    ({"actor": "load_policies"}, "系统（载入政策）"),
    ({"actor": "celery schedule_pool_batches"}, "系统"),
    ({"actor": "api token 微信渠道"}, "接口令牌 微信渠道"),
    ({}, "系统"),
])
def test_who_acted_reads_in_words_never_a_command_name(meta, shown):
    from config.home import _who

    assert _who(meta) == shown


def test_an_operator_sees_every_roles_panels(client):
    from django.contrib.auth import get_user_model

    client.force_login(get_user_model().objects.create_superuser("operator", password=PASSWORD))
    ids = [p.id for p in client.get("/admin/").context["panels"]]
    assert ids == ["enrollment", "payments", "assisted", "rosters", "reregistration", "batches", "pool",
                   "flexible", "policy", "changes", "batches-failed"]


def test_the_flexible_employment_panel_reads_its_summary(client):
    now = timezone.now()
    store.replace("flexible_enrollments", [
        store.Row(region="610400", year=2025, key="paid", label="已缴费", count=3, amount=Decimal("10800.00")),
        store.Row(region="610400", year=2025, key="registered", label="已登记", count=1, amount=Decimal("3600.00")),
        store.Row(region="330200", year=2025, key="paid", label="已缴费", count=9, amount=Decimal("1.00"))], now=now)
    client.force_login(caseworker("cw_flex", "610400"))
    resp = client.get("/admin/")
    [panel] = [p for p in resp.context["panels"] if p.id == "flexible"]
    assert panel.rows == [["咸阳市", 2025, "已缴费", 3, "10800.00"], ["咸阳市", 2025, "已登记", 1, "3600.00"]]
    assert panel.chart["labels"] == ["咸阳市 2025"]
    assert [(d["label"], d["data"]) for d in panel.chart["datasets"]] == [("已缴费", [3]), ("已登记", [1])]
