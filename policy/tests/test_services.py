"""Policy-year services: load_policies, clone_policy_year, publish / return to draft.

INTERFACES.md section 3.  The session fixture (conftest.py) has already loaded
the bundled policies into the test database; tests that need a fresh load wipe
the policy tables inside their own transaction first.
"""

import shutil
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone
from pghistory.models import Context

from policy.datafile import PolicyFileError
from policy.models import (
    AssistanceTier,
    Category,
    FlexibleEmploymentRate,
    PaymentPeriod,
    PolicyYear,
    Region,
    SpecialGroup,
)
from policy.quoting import quote_one
from policy.services import (
    PolicyError,
    clone_policy_year,
    load_policies,
    policy_year_as_data,
    policy_year_publish,
    policy_year_unpublish,
)
from policy.validation import validate_policy

SHANGHAI = ZoneInfo("Asia/Shanghai")
BUNDLED = settings.POLICY_DATA_DIR
BUNDLED_YEARS = ["141100-2026", "310000-2025", "330200-2025", "610400-2025", "630100-2025"]
EVENT_MODELS = ["RegionEvent", "PolicyYearEvent", "CategoryEvent", "PaymentPeriodEvent",
                "AssistanceTierEvent", "SpecialGroupEvent", "FlexibleEmploymentRateEvent"]
CHILDREN = [Category, PaymentPeriod, AssistanceTier, SpecialGroup, FlexibleEmploymentRate]


# --- helpers ---------------------------------------------------------------------------------


def event_counts() -> dict:
    """Rows in every policy audit table plus the context table: any write shows here."""
    counts = {name: apps.get_model("policy", name).objects.count() for name in EVENT_MODELS}
    counts["contexts"] = Context.objects.count()
    return counts


def table_counts() -> dict:
    return {m.__name__: m.objects.count() for m in [Region, PolicyYear, *CHILDREN]}


def wipe_policies():
    """Empty the policy tables (inside the test's transaction, so rolled back afterwards)."""
    for model in CHILDREN:
        model.objects.all().delete()
    PolicyYear.objects.all().delete()
    Region.objects.filter(policy_region__isnull=False).delete()
    Region.objects.all().delete()


def year(region, y) -> PolicyYear:
    return PolicyYear.objects.select_related("region").get(region_id=region, year=y)


def category(region, y, code) -> Category:
    return Category.objects.get(policy_year__region_id=region, policy_year__year=y, code=code)


def make_user(username="zhang.san"):
    return get_user_model().objects.create_user(username=username, password="x-Unused-123",
                                                is_staff=True)


def lueliang_dibao(year_=2026, paid_on="2026-01-10"):
    return {"region": "141100", "year": year_, "paid_on": paid_on,
            "person": {"birth_date": "1980-05-01"},
            "identities": [{"code": "dibao", "certified_on": "2025-06-01"}]}


def bundled_copy(tmp_path, edit=None, extra=None):
    """A copy of policies/ in tmp_path; ``edit`` = (file, old, new) text replacements."""
    for src in BUNDLED.glob("*.yaml"):
        shutil.copy(src, tmp_path / src.name)
    for name, old, new in edit or []:
        path = tmp_path / name
        text = path.read_text(encoding="utf-8")
        assert old in text, (name, old)  # the edit must really change the file
        path.write_text(text.replace(old, new, 1), encoding="utf-8")
    for name, text in (extra or {}).items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    return tmp_path


# A tiny region whose 2024 policy has 29 February dates (2024 is a leap year).
TINY_REGIONS = """\
regions:
  - {code: "990100", name: 测试市, province: 测试省, province_code: "990000"}
"""
TINY_2024 = """\
region: "990100"
year: 2024
status: published
age_reference_date: 2023-12-31
registration_starts_on: 2023-10-01
registration_ends_on: 2024-02-29
continuity_from_year: 2025
waiting:
  fixed_months: 3
categories:
  - {code: resident, name: 城乡居民, born_from: null, born_to: null, personal_standard: "380.00", fiscal_subsidy: null}
periods:
  - {kind: window, starts_on: 2023-10-01, ends_on: 2024-02-29, benefit_start: payment_date, offset: 0, charge: personal}
  - {kind: late, starts_on: 2024-03-01, ends_on: null, benefit_start: payment_plus_months, offset: 3, charge: personal}
assistance:
  - {identity: dibao, kind: fixed, percentage: null, amount: "300.00", certified_by: 2024-02-29}
family_pool:
  premium_cutoff: "2024-02-29T17:00:00+08:00"
  batch_starts_on: 2024-02-29
"""


@pytest.fixture
def tiny(tmp_path, db):
    (tmp_path / "regions.yaml").write_text(TINY_REGIONS, encoding="utf-8")
    (tmp_path / "990100-2024.yaml").write_text(TINY_2024, encoding="utf-8")
    summary = load_policies(tmp_path)
    assert summary.created == ["990100-2024"]
    return year("990100", 2024)


# --- load_policies ---------------------------------------------------------------------------


def test_load_policies_into_an_empty_database(db):
    wipe_policies()
    summary = load_policies()

    assert summary.as_dict() == {
        "regions_created": 6, "regions_updated": 0, "created": BUNDLED_YEARS, "updated": [],
        "unchanged": [], "differs_not_changed": []}
    assert dict(Region.objects.values_list("code", "policy_region_id")) == {
        "330200": None, "630100": None, "610400": None, "141100": None, "141181": "141100",
        "310000": None}
    assert Region.objects.get(code="141181").name == "孝义市"
    assert sorted(PolicyYear.objects.values_list("region_id", "year", "status", "revision")) == [
        ("141100", 2026, "published", 2), ("310000", 2025, "published", 2),
        ("330200", 2025, "published", 2), ("610400", 2025, "published", 2),
        ("630100", 2025, "published", 2)]
    assert not PolicyYear.objects.filter(published_at__isnull=True).exists()
    # loaded by a command, not a person
    assert not PolicyYear.objects.filter(published_by__isnull=False).exists()
    # the county is quoted on its city's policy
    answer = quote_one({**lueliang_dibao(), "region": "141181"})
    assert (answer["region"], answer["amount_due"]) == ("141181", "80.00")


def test_region_edited_in_the_database_is_restored_from_regions_yaml(policies):
    Region.objects.filter(code="330200").update(name="宁波")
    summary = load_policies()
    assert (summary.regions_created, summary.regions_updated) == (0, 1)
    assert summary.unchanged == BUNDLED_YEARS
    assert Region.objects.get(code="330200").name == "宁波市"


def test_loaded_figures_are_exact(policies):
    adult = category("330200", 2025, "adult")
    assert (adult.personal_standard, adult.fiscal_subsidy) == (Decimal("780.00"), Decimal("2090.00"))
    assert (adult.born_from, adult.born_to) == (None, date(2005, 12, 31))
    minor = category("330200", 2025, "minor")
    assert (minor.born_from, minor.born_to) == (date(2006, 1, 1), date(2018, 12, 31))
    assert (minor.personal_standard, minor.fiscal_subsidy) == (Decimal("290.00"), Decimal("370.00"))
    ningbo = year("330200", 2025)
    assert ningbo.age_reference_date == date(2024, 12, 31)
    assert list(ningbo.paymentperiod_set.values_list("kind", "starts_on", "ends_on", "benefit_start",
                                                     "offset")) == [
        ("window", date(2024, 10, 21), date(2024, 12, 27), "year_start", 0),
        ("late", date(2024, 12, 28), None, "payment_plus_months", 3)]

    lueliang = year("141100", 2026)
    assert (lueliang.payment_day_from, lueliang.payment_day_to) == (1, 25)
    assert AssistanceTier.objects.get(policy_year=lueliang, identity="dibao").amount == Decimal("320.00")
    assert year("310000", 2025).pool_premium_cutoff == datetime(2024, 12, 20, 17, 0, tzinfo=SHANGHAI)
    rate = FlexibleEmploymentRate.objects.get(policy_year=year("610400", 2025), status="in_service",
                                              component="large_medical")
    assert rate.annual_amount == Decimal("172.80")


def test_unset_figures_are_null_not_zero(policies):
    assert category("630100", 2025, "resident").fiscal_subsidy is None
    assert category("630100", 2025, "resident").personal_standard == Decimal("400.00")
    assert category("141100", 2026, "resident").fiscal_subsidy is None
    entitled = AssistanceTier.objects.get(policy_year=year("141100", 2026), identity="entitled")
    assert (entitled.kind, entitled.amount, entitled.percentage) == ("fixed", None, None)
    shanghai_adult = category("310000", 2025, "adult")
    assert (shanghai_adult.personal_standard, shanghai_adult.fiscal_subsidy) == (None, None)
    assert shanghai_adult.birth_range_in_source is False
    shanghai = year("310000", 2025)
    assert shanghai.cap_after_years == 4
    assert (shanghai.cap_increase_per_year, shanghai.cap_break_decrease,
            shanghai.registration_starts_on) == (None, None, None)
    assert PaymentPeriod.objects.get(policy_year=shanghai, kind="window").starts_on is None
    # nowhere did a "not in source" figure become 0
    assert not Category.objects.filter(personal_standard=0).exists()
    assert not Category.objects.filter(fiscal_subsidy=0).exists()
    assert not AssistanceTier.objects.filter(amount=0).exists()


def test_second_load_reports_unchanged_and_writes_nothing(policies):
    before_events, before_rows = event_counts(), table_counts()
    before_years = sorted(PolicyYear.objects.values_list("id", "revision", "updated_at", "published_at"))

    summary = load_policies()

    assert summary.as_dict() == {
        "regions_created": 0, "regions_updated": 0, "created": [], "updated": [],
        "unchanged": BUNDLED_YEARS, "differs_not_changed": []}
    assert event_counts() == before_events
    assert table_counts() == before_rows
    assert sorted(PolicyYear.objects.values_list("id", "revision", "updated_at", "published_at")) == before_years


def test_year_edited_in_the_database_is_reported_and_left_alone(policies):
    Category.objects.filter(policy_year__region_id="330200", policy_year__year=2025,
                            code="adult").update(personal_standard=Decimal("800.00"))
    before = event_counts()
    revision = year("330200", 2025).revision

    summary = load_policies()

    assert summary.differs == ["330200-2025"]
    assert summary.unchanged == [y for y in BUNDLED_YEARS if y != "330200-2025"]
    assert summary.updated == [] and summary.created == []
    assert category("330200", 2025, "adult").personal_standard == Decimal("800.00")
    assert year("330200", 2025).revision == revision
    assert event_counts() == before


def test_force_rewrites_the_edited_year_from_its_file(policies):
    Category.objects.filter(policy_year__region_id="330200", policy_year__year=2025,
                            code="adult").update(personal_standard=Decimal("800.00"))
    PolicyYear.objects.filter(region_id="630100", year=2025).update(notes="edited")
    revision = year("330200", 2025).revision

    summary = load_policies(force=True)

    assert summary.updated == ["330200-2025", "630100-2025"]
    assert summary.unchanged == ["141100-2026", "310000-2025", "610400-2025"]
    assert category("330200", 2025, "adult").personal_standard == Decimal("780.00")
    ningbo = year("330200", 2025)
    assert ningbo.status == "published" and ningbo.published_at is not None
    assert ningbo.revision == revision + 2  # rewritten, then published again
    assert year("630100", 2025).notes == ""
    assert Category.objects.filter(policy_year=ningbo).count() == 5
    # and now the files and the database agree again
    assert load_policies().unchanged == BUNDLED_YEARS


def test_year_returned_to_draft_counts_as_differing(policies):
    policy_year_unpublish(policy_year=year("610400", 2025), actor=None)
    summary = load_policies()
    assert summary.differs == ["610400-2025"]
    assert year("610400", 2025).status == "draft"


BAD_FILES = [
    pytest.param([("141100-2026.yaml", 'personal_standard: "400.00"', "personal_standard: 400.00")],
                 '141100-2026.yaml: categories[0]: personal_standard: write money as a quoted string '
                 'such as "172.80", not 400.0', id="money-as-yaml-float"),
    pytest.param([("141100-2026.yaml", 'personal_standard: "400.00"', 'personal_standard: "400.005"')],
                 "141100-2026.yaml: categories[0]: personal_standard: more than two decimals: '400.005'",
                 id="money-three-decimals"),
    pytest.param([("141100-2026.yaml", "year: 2026\n", "year: 2026\nfiscal_subsidies: 1\n")],
                 "141100-2026.yaml: unknown key 'fiscal_subsidies'", id="unknown-top-key"),
    pytest.param([("330200-2025.yaml", "  fixed_months: 3", "  fixed_months: 3\n  fixed_days: 0")],
                 "330200-2025.yaml: unknown key waiting.fixed_days", id="unknown-group-key"),
    pytest.param([("141100-2026.yaml", "    fiscal_subsidy: null             # not in source: §二", "    # ")],
                 "141100-2026.yaml: categories[0]: fiscal_subsidy must be written, as null when the "
                 "source does not give it", id="unset-figure-left-out"),
    pytest.param([("141100-2026.yaml", "    starts_on: 2026-01-01", "    starts_on: 2025-12-15")],
                 "141100-2026.yaml: 缴费期“集中缴费期 2025-10-21 至 2025-12-31”与“集中缴费期 2025-12-15 至 "
                 "2026-02-25”重叠", id="overlapping-periods"),
    pytest.param([("610400-2025.yaml", "  - kind: window", "  - kind: supplementary")],
                 "610400-2025.yaml: 缴费期中没有“集中缴费期”，无法发布", id="no-window"),
    pytest.param([("330200-2025.yaml", "    born_from: 2006-01-01", "    born_from: 2005-07-01")],
                 "330200-2025.yaml: 类别“成年居民”与“其他未成年人”的出生日期区间重叠",
                 id="overlapping-category-ranges"),
    pytest.param([("141100-2026.yaml", 'region: "141100"', "region: 141100")],
                 '141100-2026.yaml: region must be a quoted six-digit code, e.g. "330200"',
                 id="region-unquoted"),
]


@pytest.mark.parametrize("edit, message", BAD_FILES)
def test_bad_policy_file_is_rejected_and_nothing_is_written(db, tmp_path, edit, message):
    wipe_policies()
    before = event_counts()
    directory = bundled_copy(tmp_path, edit)

    with pytest.raises(PolicyFileError) as err:
        load_policies(directory)

    assert str(err.value) == message
    # the good files were not loaded either: all or nothing
    assert table_counts() == {name: 0 for name in table_counts()}
    assert event_counts() == before


def test_policy_file_of_an_unknown_region_rolls_back_the_regions_too(db, tmp_path):
    wipe_policies()
    before = event_counts()
    text = (BUNDLED / "630100-2025.yaml").read_text(encoding="utf-8").replace(
        'region: "630100"', 'region: "630200"')
    directory = bundled_copy(tmp_path, extra={"630200-2025.yaml": text})

    with pytest.raises(PolicyFileError) as err:
        load_policies(directory)

    assert str(err.value) == "630200-2025.yaml: region 630200 is not in regions.yaml"
    assert table_counts() == {name: 0 for name in table_counts()}
    assert event_counts() == before


def test_bad_file_leaves_an_already_loaded_database_untouched(policies, tmp_path):
    before_events, before_rows = event_counts(), table_counts()
    directory = bundled_copy(tmp_path, [("330200-2025.yaml", 'personal_standard: "780.00"',
                                         "personal_standard: 780.5")])
    with pytest.raises(PolicyFileError, match="write money as a quoted string"):
        load_policies(directory, force=True)
    assert event_counts() == before_events
    assert table_counts() == before_rows
    assert category("330200", 2025, "adult").personal_standard == Decimal("780.00")


# --- clone_policy_year -----------------------------------------------------------------------


def test_clone_moves_every_date_and_29_february_becomes_28(tiny):
    result = clone_policy_year(region="990100", from_year=2024, to_year=2025)

    assert (result.created, result.published) == (True, False)
    py = year("990100", 2025)
    assert result.policy_year.pk == py.pk
    assert (py.status, py.published_at, py.published_by) == ("draft", None, None)
    assert py.age_reference_date == date(2024, 12, 31)
    assert (py.registration_starts_on, py.registration_ends_on) == (date(2024, 10, 1), date(2025, 2, 28))
    assert list(py.paymentperiod_set.values_list("kind", "starts_on", "ends_on")) == [
        ("window", date(2024, 10, 1), date(2025, 2, 28)), ("late", date(2025, 3, 1), None)]
    assert py.pool_premium_cutoff == datetime(2025, 2, 28, 17, 0, tzinfo=SHANGHAI)
    assert py.pool_batch_starts_on == date(2025, 2, 28)
    assert AssistanceTier.objects.get(policy_year=py).certified_by == date(2025, 2, 28)
    # figures unchanged, unset stays unset
    c = Category.objects.get(policy_year=py)
    assert (c.personal_standard, c.fiscal_subsidy) == (Decimal("380.00"), None)
    assert AssistanceTier.objects.get(policy_year=py).amount == Decimal("300.00")
    assert py.continuity_from_year == 2025


def test_clone_backwards_across_a_leap_year_keeps_ordinary_dates(policies):
    clone_policy_year(region="330200", from_year=2025, to_year=2028)
    py = year("330200", 2028)
    assert list(py.paymentperiod_set.values_list("starts_on", "ends_on")) == [
        (date(2027, 10, 21), date(2027, 12, 27)), (date(2027, 12, 28), None)]
    assert category("330200", 2028, "adult").born_to == date(2008, 12, 31)
    assert category("330200", 2028, "infant").born_from == date(2022, 1, 1)


def test_clone_copies_every_figure(policies):
    clone_policy_year(region="141100", from_year=2026, to_year=2027)
    source, copy = year("141100", 2026), year("141100", 2027)

    def figures(py):
        return {
            "categories": list(py.category_set.values_list("code", "personal_standard", "fiscal_subsidy")),
            "tiers": list(py.assistancetier_set.values_list("identity", "kind", "percentage", "amount")),
            "groups": list(py.specialgroup_set.values_list("code", "within_months", "free_in_birth_year")),
            "periods": list(py.paymentperiod_set.values_list("kind", "benefit_start", "offset", "charge")),
            "year": (py.payment_day_from, py.payment_day_to, py.fixed_waiting_months,
                     py.bank_record_delay_working_days, py.cap_increase_per_year, py.pool_relations),
        }

    assert figures(copy) == figures(source)
    assert len(figures(copy)["tiers"]) == 9
    assert list(copy.paymentperiod_set.values_list("starts_on", "ends_on")) == [
        (date(2026, 10, 21), date(2026, 12, 31)), (date(2027, 1, 1), date(2027, 2, 25)),
        (date(2027, 2, 26), None)]


def test_draft_clone_is_not_quotable_until_published(policies):
    clone_policy_year(region="141100", from_year=2026, to_year=2027)
    answer = quote_one(lueliang_dibao(2027, "2027-01-10"))
    assert answer == {"error": {"code": "policy_missing", "message": "吕梁市 2027 年度没有已发布的政策"}}

    before = year("141100", 2027).revision
    result = clone_policy_year(region="141100", from_year=2026, to_year=2027, publish=True)

    assert (result.created, result.published) == (False, True)
    py = year("141100", 2027)
    assert py.status == "published" and py.published_at is not None
    assert py.revision == before + 1
    answer = quote_one(lueliang_dibao(2027, "2027-01-10"))
    assert answer["amount_due"] == "80.00"
    assert (answer["benefit_start"], answer["benefit_end"]) == ("2027-01-10", "2027-12-31")


def test_clone_with_publish_is_quotable_at_once(policies):
    result = clone_policy_year(region="141100", from_year=2026, to_year=2028, publish=True)
    assert (result.created, result.published) == (True, True)
    assert year("141100", 2028).status == "published"
    # a county using Lüliang's policy gets the copy as well
    answer = quote_one({**lueliang_dibao(2028, "2028-01-10"), "region": "141181"})
    assert (answer["region"], answer["amount_due"]) == ("141181", "80.00")


def test_identical_clone_again_is_a_no_op(policies):
    clone_policy_year(region="630100", from_year=2025, to_year=2026)
    before_events, before_rows = event_counts(), table_counts()
    revision = year("630100", 2026).revision

    result = clone_policy_year(region="630100", from_year=2025, to_year=2026)

    assert (result.created, result.published) == (False, False)
    assert event_counts() == before_events
    assert table_counts() == before_rows
    assert year("630100", 2026).revision == revision


def test_clone_onto_a_different_existing_year_is_refused(policies):
    clone_policy_year(region="630100", from_year=2025, to_year=2026)
    Category.objects.filter(policy_year__region_id="630100", policy_year__year=2026).update(
        personal_standard=Decimal("420.00"))
    before_events, before_rows = event_counts(), table_counts()

    with pytest.raises(PolicyError) as err:
        clone_policy_year(region="630100", from_year=2025, to_year=2026, publish=True)

    assert str(err.value) == ("地区 630100 已有 2026 年度的政策且内容不同；"
                              "请在后台编辑该年度，或删除草稿后重新复制")
    assert category("630100", 2026, "resident").personal_standard == Decimal("420.00")
    assert year("630100", 2026).status == "draft"
    assert event_counts() == before_events
    assert table_counts() == before_rows


def test_clone_onto_a_bundled_year_is_refused(policies):
    # Shanghai 2025 -> 2027 (conftest may have made it already); cloning that back onto 2025
    # would be identical (a no-op) were it not for the edit.
    clone_policy_year(region="310000", from_year=2025, to_year=2027)
    assert clone_policy_year(region="310000", from_year=2027, to_year=2025).created is False
    PolicyYear.objects.filter(region_id="310000", year=2027).update(notes="changed")
    with pytest.raises(PolicyError, match="已有 2025 年度的政策且内容不同"):
        clone_policy_year(region="310000", from_year=2027, to_year=2025)
    assert year("310000", 2025).notes == ""


@pytest.mark.parametrize("kwargs, message", [
    ({"region": "141100", "from_year": 2020, "to_year": 2027}, "地区 141100 没有 2020 年度的政策"),
    ({"region": "999999", "from_year": 2025, "to_year": 2026}, "地区 999999 没有 2025 年度的政策"),
    ({"region": "141100", "from_year": 2026, "to_year": 2026}, "源年度与目标年度相同"),
])
def test_clone_refusals_write_nothing(policies, kwargs, message):
    before_events, before_rows = event_counts(), table_counts()
    with pytest.raises(PolicyError) as err:
        clone_policy_year(**kwargs)
    assert str(err.value) == message
    assert event_counts() == before_events
    assert table_counts() == before_rows


# --- publish / return to draft ---------------------------------------------------------------


@pytest.fixture
def draft(policies):
    """A draft copy of Xining 2025 for 2026 (one window Sep-Dec, one Jan-Mar, two late periods)."""
    return clone_policy_year(region="630100", from_year=2025, to_year=2026).policy_year


def _publish_refused(py, user, message):
    revision = year(py.region_id, py.year).revision
    with pytest.raises(PolicyError) as err:
        policy_year_publish(policy_year=py, actor=user)
    assert str(err.value) == message
    after = year(py.region_id, py.year)
    assert (after.status, after.published_at, after.published_by, after.revision) == (
        "draft", None, None, revision)


def test_publish_refuses_overlapping_periods(draft):
    PaymentPeriod.objects.filter(policy_year=draft, starts_on=date(2026, 1, 1)).update(
        starts_on=date(2025, 12, 1))
    _publish_refused(draft, make_user(),
                     "西宁市 2026 年度不能发布：缴费期“集中缴费期 2025-09-01 至 2025-12-31”"
                     "与“集中缴费期 2025-12-01 至 2026-03-31”重叠")


def test_publish_refuses_a_year_without_window(draft):
    PaymentPeriod.objects.filter(policy_year=draft, kind="window").update(kind="supplementary")
    _publish_refused(draft, make_user(), "西宁市 2026 年度不能发布：缴费期中没有“集中缴费期”，无法发布")


def test_publish_refuses_overlapping_category_ranges(policies):
    py = clone_policy_year(region="330200", from_year=2025, to_year=2026).policy_year
    Category.objects.filter(policy_year=py, code="minor").update(born_from=date(2006, 6, 1))
    _publish_refused(py, make_user(), "宁波市 2026 年度不能发布：类别“成年居民”与“其他未成年人”的出生日期区间重叠")


def test_publish_lists_every_problem(draft):
    PaymentPeriod.objects.filter(policy_year=draft, kind="window").delete()
    PolicyYear.objects.filter(pk=draft.pk).update(payment_day_from=20, payment_day_to=10)
    _publish_refused(draft, make_user(), "西宁市 2026 年度不能发布：每月可缴费起始日晚于截止日；"
                                         "缴费期中没有“集中缴费期”，无法发布")


def test_negative_amounts_fail_validation(draft):
    data = policy_year_as_data(draft)
    data["categories"][0]["personal_standard"] = Decimal("-1.00")
    data["categories"][0]["fiscal_subsidy"] = Decimal("-0.01")
    dibao = next(t for t in data["assistance"] if t["identity"] == "dibao")
    dibao.update(kind="fixed", percentage=None, amount=Decimal("-5.00"))
    data["year_fields"]["cap_break_decrease"] = Decimal("-100.00")
    assert validate_policy(data) == [
        "断保再参保降低大病限额不能为负数",
        "类别“城乡居民”的个人缴费标准不能为负数",
        "类别“城乡居民”的财政补助不能为负数",
        "资助身份“低保对象”的定额不能为负数",
    ]


def test_an_open_period_starting_after_the_benefit_year_fails_validation(draft):
    data = policy_year_as_data(draft)
    last = data["periods"][-1]
    assert last["ends_on"] is None
    last["starts_on"] = date(draft.year + 1, 1, 5)
    assert f"缴费期集中缴费期外（{draft.year + 1}-01-05 至 年度末）开始日期晚于待遇年度末" in validate_policy(data)


@pytest.mark.parametrize("model, field", [
    (Category, "personal_standard"), (Category, "fiscal_subsidy"), (AssistanceTier, "amount"),
    (PolicyYear, "cap_increase_per_year")])
def test_database_refuses_negative_amounts(draft, model, field):
    qs = model.objects.filter(pk=draft.pk) if model is PolicyYear else model.objects.filter(policy_year=draft)
    with pytest.raises(IntegrityError), transaction.atomic():
        qs.update(**{field: Decimal("-1.00")})


def test_publish_records_status_time_user_and_audit(draft):
    user = make_user()
    revision = year("630100", 2026).revision
    start = timezone.now()

    policy_year_publish(policy_year=draft, actor=user)

    py = year("630100", 2026)
    assert py.status == "published"
    assert start <= py.published_at <= timezone.now()
    assert py.published_by == user
    assert py.revision == revision + 1
    event = (apps.get_model("policy", "PolicyYearEvent").objects
             .filter(pgh_obj_id=py.pk, pgh_label="update").order_by("-pgh_id").first())
    assert event.status == "published"
    assert event.pgh_context.metadata == {"user": user.pk, "username": "zhang.san",
                                          "action": "policy_year_publish"}
    assert quote_one({"region": "630100", "year": 2026, "paid_on": "2025-10-01",
                      "person": {"birth_date": "1980-01-01"}})["amount_due"] == "400.00"


def test_publish_twice_is_refused(draft):
    user = make_user()
    policy_year_publish(policy_year=draft, actor=user)
    published_at = year("630100", 2026).published_at
    with pytest.raises(PolicyError, match="已发布"):
        policy_year_publish(policy_year=draft, actor=make_user("li.si"))
    py = year("630100", 2026)
    assert (py.published_at, py.published_by) == (published_at, user)


def test_unpublish_returns_to_draft_and_records_who(policies):
    user = make_user("wang.wu")
    py = year("141100", 2026)
    revision = py.revision
    assert quote_one(lueliang_dibao())["amount_due"] == "80.00"

    policy_year_unpublish(policy_year=py, actor=user)

    py = year("141100", 2026)
    assert (py.status, py.published_at, py.published_by, py.revision) == ("draft", None, None, revision + 1)
    assert quote_one(lueliang_dibao())["error"]["code"] == "policy_missing"
    event = (apps.get_model("policy", "PolicyYearEvent").objects
             .filter(pgh_obj_id=py.pk, pgh_label="update").order_by("-pgh_id").first())
    assert event.status == "draft"
    assert event.pgh_context.metadata == {"user": user.pk, "username": "wang.wu",
                                          "action": "policy_year_unpublish"}

    with pytest.raises(PolicyError, match="不是已发布状态"):
        policy_year_unpublish(policy_year=py, actor=user)

    policy_year_publish(policy_year=py, actor=user)
    assert quote_one(lueliang_dibao())["amount_due"] == "80.00"


def test_clone_records_the_actor_in_the_audit_trail(policies):
    user = make_user()
    py = clone_policy_year(region="330200", from_year=2025, to_year=2026, actor=user).policy_year
    inserts = apps.get_model("policy", "CategoryEvent").objects.filter(
        pgh_obj_id__in=py.category_set.values("id"), pgh_label="insert")
    assert inserts.count() == py.category_set.count() == 5
    for event in inserts:
        assert event.pgh_context.metadata == {"user": user.pk, "username": "zhang.san",
                                              "action": "clone_policy_year"}
