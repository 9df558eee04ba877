"""The admin: 缴费测算 (/admin/quote/) and editing / publishing policy years.

Forms are submitted the way a browser would: the change page is rendered, its
inputs are read back from the HTML, a few are changed, and the lot is posted.
"""

from datetime import date
from decimal import Decimal
from html import unescape
from html.parser import HTMLParser

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.messages import get_messages
from django.test import Client

from accounts.roles import CASEWORKER, POLICY_ADMIN
from policy.models import Category, PaymentPeriod, PolicyYear
from policy.services import clone_policy_year, policy_year_as_data, same_policy

QUOTE_URL = "/admin/quote/"
CHANGELIST = "/admin/policy/policyyear/"


def change_url(py):
    return f"{CHANGELIST}{py.pk}/change/"


def user_in(group_name, username):
    user = get_user_model().objects.create_user(username=username, password="x-Unused-123", is_staff=True)
    if group_name:
        user.groups.add(Group.objects.get(name=group_name))
    return user


@pytest.fixture
def caseworker(db):
    return user_in(CASEWORKER, "caseworker")


@pytest.fixture
def policy_admin(db):
    return user_in(POLICY_ADMIN, "policy.admin")


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def text_of(resp) -> str:
    return unescape(resp.content.decode("utf-8"))


def page_messages(resp) -> list[str]:
    return [str(m) for m in get_messages(resp.wsgi_request)]


class _FormReader(HTMLParser):
    """The values a browser would submit for the form with the given id."""

    def __init__(self, form_id):
        super().__init__(convert_charrefs=True)
        self.form_id = form_id
        self.inside = False
        self.data: list[tuple[str, str]] = []
        self._select = None  # (name, multiple, options, selected)
        self._textarea = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.inside = a.get("id") == self.form_id
            return
        if not self.inside:
            return
        name = a.get("name")
        if tag == "input" and name:
            kind = a.get("type", "text")
            if kind in ("submit", "button", "image", "reset", "file"):
                return
            if kind in ("checkbox", "radio") and "checked" not in a:
                return
            self.data.append((name, a.get("value", "on" if kind in ("checkbox", "radio") else "")))
        elif tag == "select" and name:
            self._select = (name, "multiple" in a, [], [])
        elif tag == "option" and self._select is not None:
            value = a.get("value", "")
            self._select[2].append(value)
            if "selected" in a:
                self._select[3].append(value)
        elif tag == "textarea" and name:
            self._textarea = [name, ""]

    def handle_data(self, data):
        if self._textarea is not None:
            self._textarea[1] += data

    def handle_endtag(self, tag):
        if tag == "form":
            self.inside = False
        elif tag == "select" and self._select is not None:
            name, multiple, options, selected = self._select
            if not selected and not multiple and options:
                selected = [options[0]]
            self.data.extend((name, v) for v in selected)
            self._select = None
        elif tag == "textarea" and self._textarea is not None:
            name, value = self._textarea
            self.data.append((name, value.lstrip("\n")))
            self._textarea = None


def form_values(resp, form_id="policyyear_form") -> dict:
    reader = _FormReader(form_id)
    reader.feed(resp.content.decode("utf-8"))
    assert reader.data, f"no form {form_id!r} on the page"
    out: dict = {}
    for name, value in reader.data:
        if "__prefix__" in name:
            continue
        if name in out:
            out[name] = out[name] if isinstance(out[name], list) else [out[name]]
            out[name].append(value)
        else:
            out[name] = value
    return out


def add_period(data, **fields):
    prefix = "paymentperiod_set"
    i = int(data[f"{prefix}-TOTAL_FORMS"])
    data[f"{prefix}-TOTAL_FORMS"] = str(i + 1)
    row = {"sort_order": "9", "kind": "window", "starts_on": "", "ends_on": "", "benefit_start": "payment_date",
           "offset": "0", "charge": "personal", "source_note": "", "policy_year": data.get("id", "")}
    row.update(fields)
    for key, value in row.items():
        data[f"{prefix}-{i}-{key}"] = value
    return data


def event_counts():
    names = ["PolicyYearEvent", "CategoryEvent", "PaymentPeriodEvent", "AssistanceTierEvent",
             "SpecialGroupEvent", "FlexibleEmploymentRateEvent"]
    return {n: apps.get_model("policy", n).objects.count() for n in names}


# --- 缴费测算 ------------------------------------------------------------------------------


LUELIANG_DIBAO = {"region": "141100", "year": "2026", "paid_on": "2026-01-10", "birth_date": "1980-05-01",
                  "hukou": "local", "identity_1": "dibao", "certified_on_1": "2025-06-01",
                  "history_2025": "resident"}


def test_quote_page_renders_for_a_caseworker(policies, caseworker, settings):
    settings.BUSINESS_DATE = date(2026, 11, 30)
    resp = logged_in(caseworker).get(QUOTE_URL)
    assert resp.status_code == 200
    html = text_of(resp)
    assert "<title>缴费测算" in html
    assert "吕梁市（141100）2026 年度" in html
    assert "孝义市（141181）" in html  # the county is offered as 参保地
    # a caseworker without regions starts on the first region and its year for the business
    # date (policy/tests/test_workbench.py: the user's own region)
    assert resp.context["form"].initial["region"] == "141100"
    assert resp.context["form"].initial["year"] == 2026


def test_quote_page_is_on_the_admin_index(policies, caseworker):
    resp = logged_in(caseworker).get("/admin/")
    assert resp.status_code == 200
    assert 'href="/admin/quote/"' in resp.content.decode()


def test_quote_page_lueliang_dibao_shows_80_and_the_steps(policies, caseworker):
    resp = logged_in(caseworker).post(QUOTE_URL, LUELIANG_DIBAO)
    assert resp.status_code == 200
    answer = resp.context["answer"]
    assert (answer["amount_due"], answer["assistance"]) == ("80.00", {"identity": "dibao", "amount": "320.00"})
    html = text_of(resp)
    assert "应缴金额</th><td class=\"money\"><strong>80.00</strong> 元" in html
    assert "低保对象 <span class=\"money\">320.00</span> 元" in html
    assert "财政补助</th><td class=\"money\">未设定（来源未给出）" in html
    assert "测算过程" in html
    for step in answer["explanation"]:
        assert f"<li>{step}</li>" in html
    assert "<li>应缴金额 = 400.00 − 320.00 = 80.00 元</li>" in html
    assert "<li>就高资助：低保对象 320.00 元（只享受一种资助）</li>" in html
    assert "集中缴费期内" in html
    assert "2026-01-10 至 2026-12-31" in html


def test_quote_page_county_uses_city_policy(policies, caseworker):
    resp = logged_in(caseworker).post(QUOTE_URL, {**LUELIANG_DIBAO, "region": "141181"})
    assert resp.context["answer"]["amount_due"] == "80.00"
    assert resp.context["answer"]["region"] == "141181"


def test_quote_page_unset_figure_shows_message_and_code(policies, caseworker):
    resp = logged_in(caseworker).post(QUOTE_URL, {**LUELIANG_DIBAO, "identity_1": "entitled"})
    assert resp.status_code == 200
    html = text_of(resp)
    assert "<h2>所需数值未设定（来源文件未给出）</h2>" in html
    assert "吕梁市 2026 年度“优抚对象”资助标准，来源文件未给出" in html
    assert "错误代码" not in html and "value_not_in_source" not in html
    assert "测算结果" not in html


def test_quote_page_policy_missing(policies, caseworker):
    resp = logged_in(caseworker).post(QUOTE_URL, {**LUELIANG_DIBAO, "year": "2031"})
    html = text_of(resp)
    assert "<h2>没有已发布的政策</h2>" in html
    assert "错误代码" not in html and "policy_missing" not in html


def test_quote_page_birth_after_payment_is_an_error(policies, caseworker):
    resp = logged_in(caseworker).post(QUOTE_URL, {**LUELIANG_DIBAO, "birth_date": "2026-03-01"})
    assert resp.status_code == 200
    html = text_of(resp)
    assert "测算结果" not in html
    assert resp.context["answer"] == {"error": {
        "code": "invalid_input", "message": "出生日期 2026-03-01 晚于缴费（登记）日期 2026-01-10"}}
    assert "<h2>输入有误</h2>" in html
    assert "出生日期 2026-03-01 晚于缴费（登记）日期 2026-01-10" in html
    assert "错误代码" not in html and "invalid_input" not in html


def test_quote_page_far_future_date_is_an_error_not_a_crash(policies, caseworker):
    resp = logged_in(caseworker).post(QUOTE_URL, {**LUELIANG_DIBAO, "left_other_scheme_on": "9999-12-31"})
    assert resp.status_code == 200
    html = text_of(resp)
    assert "<h2>输入有误</h2>" in html
    assert "错误代码" not in html and "invalid_input" not in html


@pytest.mark.parametrize("field, value", [("paid_on", "2026-02-30"), ("birth_date", "yesterday"),
                                          ("year", "abc"), ("region", "999999"), ("hukou", "mars")])
def test_quote_page_bad_input_shows_field_error(policies, caseworker, field, value):
    resp = logged_in(caseworker).post(QUOTE_URL, {**LUELIANG_DIBAO, field: value})
    assert resp.status_code == 200
    assert field in resp.context["form"].errors
    html = text_of(resp)
    assert "请改正下面标出的错误。" in html
    assert "测算结果" not in html


def test_quote_page_refused_without_permission(policies, db):
    nobody = user_in(None, "no.perms")
    assert logged_in(nobody).get(QUOTE_URL).status_code == 403
    assert logged_in(nobody).post(QUOTE_URL, LUELIANG_DIBAO).status_code == 403
    assert 'href="/admin/quote/"' not in logged_in(nobody).get("/admin/").content.decode()


def test_quote_page_needs_a_staff_login(policies, db):
    resp = Client().get(QUOTE_URL)
    assert resp.status_code == 302
    assert resp["Location"].startswith("/admin/login/")
    resident = get_user_model().objects.create_user(username="resident", password="x-Unused-123")
    assert logged_in(resident).get(QUOTE_URL).status_code == 302


# --- policy years: viewing -------------------------------------------------------------------


def test_caseworker_sees_policy_years_read_only(policies, caseworker):
    client = logged_in(caseworker)
    resp = client.get(CHANGELIST)
    assert resp.status_code == 200
    html = text_of(resp)
    for name in ("宁波市", "西宁市", "咸阳市", "吕梁市", "上海市"):
        assert name in html
    py = PolicyYear.objects.get(region_id="141100", year=2026)
    resp = client.get(change_url(py))
    assert resp.status_code == 200
    html = text_of(resp)
    assert "城乡居民财政补助" in html  # unset figures listed
    assert "通过" in html  # publication checks pass
    assert 'name="_save"' not in html


def test_policy_admin_add_page_renders(policies, policy_admin):
    resp = logged_in(policy_admin).get(f"{CHANGELIST}add/")
    assert resp.status_code == 200
    assert 'name="_save"' in resp.content.decode()
    assert logged_in(user_in(CASEWORKER, "cw")).get(f"{CHANGELIST}add/").status_code == 403


def test_caseworker_cannot_change_even_a_draft(policies, caseworker):
    py = clone_policy_year(region="630100", from_year=2025, to_year=2026).policy_year
    client = logged_in(caseworker)
    data = form_values(logged_in(user_in(POLICY_ADMIN, "pa")).get(change_url(py)))
    data["notes"] = "caseworker edit"
    assert client.post(change_url(py), data).status_code == 403
    resp = client.post(CHANGELIST, {"action": "publish", "_selected_action": [py.pk]})
    assert PolicyYear.objects.get(pk=py.pk).notes == ""
    assert PolicyYear.objects.get(pk=py.pk).status == "draft"
    assert resp.status_code in (200, 302)


def test_published_year_cannot_be_changed(policies, policy_admin):
    client = logged_in(policy_admin)
    py = PolicyYear.objects.get(region_id="330200", year=2025)
    resp = client.get(change_url(py))
    assert resp.status_code == 200
    assert 'name="_save"' not in resp.content.decode()

    before = event_counts()
    resp = client.post(change_url(py), {"notes": "changed", "year": "2025", "region": "330200"})
    assert resp.status_code == 403
    py.refresh_from_db()
    assert py.notes == "" and py.status == "published"
    assert event_counts() == before


def test_published_year_cannot_be_deleted(policies, policy_admin):
    py = PolicyYear.objects.get(region_id="141100", year=2026)
    resp = logged_in(policy_admin).post(f"{CHANGELIST}{py.pk}/delete/", {"post": "yes"})
    assert resp.status_code == 403
    assert PolicyYear.objects.filter(pk=py.pk, status="published").exists()
    assert Category.objects.filter(policy_year=py).count() == 1


# --- policy years: editing a draft and publishing ---------------------------------------------


@pytest.fixture
def draft(policies):
    """A draft copy of Xining 2025 for 2026, as a policy administrator makes it."""
    return clone_policy_year(region="630100", from_year=2025, to_year=2026).policy_year


def test_overlapping_period_is_refused_and_nothing_saved(draft, policy_admin):
    client = logged_in(policy_admin)
    data = form_values(client.get(change_url(draft)))
    data["notes"] = "should not be saved"
    add_period(data, starts_on="2025-12-01", ends_on="2026-01-15")
    before, periods, revision = event_counts(), PaymentPeriod.objects.filter(policy_year=draft).count(), draft.revision

    resp = client.post(change_url(draft), data)

    assert resp.status_code == 200
    html = text_of(resp)
    assert "缴费期“集中缴费期 2025-09-01 至 2025-12-31”与“集中缴费期 2025-12-01 至 2026-01-15”重叠" in html
    py = PolicyYear.objects.get(pk=draft.pk)
    assert (py.notes, py.revision) == ("", revision)
    assert PaymentPeriod.objects.filter(policy_year=draft).count() == periods
    assert event_counts() == before


def test_period_ending_after_the_year_is_refused(draft, policy_admin):
    client = logged_in(policy_admin)
    data = add_period(form_values(client.get(change_url(draft))), kind="supplementary",
                      starts_on="2027-01-01", ends_on="2027-02-01")
    resp = client.post(change_url(draft), data)
    assert resp.status_code == 200
    assert "截止日期晚于待遇年度末" in text_of(resp)
    assert PaymentPeriod.objects.filter(policy_year=draft).count() == 4


def test_negative_amount_is_refused(draft, policy_admin):
    client = logged_in(policy_admin)
    data = form_values(client.get(change_url(draft)))
    assert data["category_set-0-personal_standard"] in ("400.00", "400")
    data["category_set-0-personal_standard"] = "-1.00"
    before = event_counts()

    resp = client.post(change_url(draft), data)

    assert resp.status_code == 200
    assert "金额不能为负数" in text_of(resp)
    assert Category.objects.get(policy_year=draft).personal_standard == Decimal("400.00")
    assert event_counts() == before


def test_negative_cap_amount_is_refused(draft, policy_admin):
    client = logged_in(policy_admin)
    data = form_values(client.get(change_url(draft)))
    data["cap_increase_per_year"] = "-100"
    resp = client.post(change_url(draft), data)
    assert resp.status_code == 200
    assert "金额不能为负数" in text_of(resp)
    assert PolicyYear.objects.get(pk=draft.pk).cap_increase_per_year is None


def test_overlapping_category_range_is_refused(policies, policy_admin):
    py = clone_policy_year(region="330200", from_year=2025, to_year=2026).policy_year
    client = logged_in(policy_admin)
    data = form_values(client.get(change_url(py)))
    minor = next(k for k, v in data.items() if k.startswith("category_set-") and k.endswith("-code") and v == "minor")
    data[minor.replace("-code", "-born_from")] = "2006-06-01"
    resp = client.post(change_url(py), data)
    assert resp.status_code == 200
    assert "类别“成年居民”与“其他未成年人”的出生日期区间重叠" in text_of(resp)
    assert Category.objects.get(policy_year=py, code="minor").born_from == date(2007, 1, 1)


def test_edit_then_publish_through_the_admin(draft, policy_admin):
    client = logged_in(policy_admin)
    data = form_values(client.get(change_url(draft)))
    unchanged = client.post(change_url(draft), data)  # the page round-trips as it is
    assert unchanged.status_code == 302, unchanged.context and unchanged.context["errors"]
    revision = PolicyYear.objects.get(pk=draft.pk).revision

    data = form_values(client.get(change_url(draft)))
    data["category_set-0-personal_standard"] = "420.00"
    data["notes"] = "2026 年度标准调整"
    resp = client.post(change_url(draft), data)

    assert resp.status_code == 302
    py = PolicyYear.objects.get(pk=draft.pk)
    assert (py.notes, py.status, py.revision) == ("2026 年度标准调整", "draft", revision + 1)
    category = Category.objects.get(policy_year=draft)
    assert category.personal_standard == Decimal("420.00")
    event = (apps.get_model("policy", "CategoryEvent").objects
             .filter(pgh_obj_id=category.pk, pgh_label="update").order_by("-pgh_id").first())
    assert event.personal_standard == Decimal("420.00")
    assert event.pgh_context.metadata["user"] == policy_admin.pk

    resp = client.post(CHANGELIST, {"action": "publish", "_selected_action": [draft.pk]}, follow=True)

    assert resp.status_code == 200
    assert "已发布：西宁市 2026 年度" in page_messages(resp)
    py = PolicyYear.objects.get(pk=draft.pk)
    assert (py.status, py.published_by, py.revision) == ("published", policy_admin, revision + 2)
    assert py.published_at is not None
    event = (apps.get_model("policy", "PolicyYearEvent").objects
             .filter(pgh_obj_id=py.pk, pgh_label="update").order_by("-pgh_id").first())
    assert event.status == "published"
    assert event.pgh_context.metadata["user"] == policy_admin.pk
    # and the new figure is what the calculator now quotes
    resp = logged_in(user_in(CASEWORKER, "cw")).post(QUOTE_URL, {
        "region": "630100", "year": "2026", "paid_on": "2025-10-01", "birth_date": "1980-05-01",
        "hukou": "local", "history_2025": "resident"})
    assert resp.context["answer"]["amount_due"] == "420.00"


def test_publishing_a_draft_without_window_is_refused(policies, policy_admin):
    py = clone_policy_year(region="141100", from_year=2026, to_year=2027).policy_year
    client = logged_in(policy_admin)
    data = form_values(client.get(change_url(py)))
    windows = [k.rsplit("-", 1)[0] for k, v in data.items()
               if k.startswith("paymentperiod_set-") and k.endswith("-kind") and v == "window"]
    assert len(windows) == 2
    for prefix in windows:
        data[f"{prefix}-DELETE"] = "on"
    # a draft may be saved without a window ...
    assert client.post(change_url(py), data).status_code == 302
    assert list(PaymentPeriod.objects.filter(policy_year=py).values_list("kind", flat=True)) == ["late"]
    html = text_of(client.get(change_url(py)))
    assert "缴费期中没有“集中缴费期”，无法发布" in html  # shown under 发布前检查

    # ... but not published
    resp = client.post(CHANGELIST, {"action": "publish", "_selected_action": [py.pk]}, follow=True)
    assert resp.status_code == 200
    assert "吕梁市 2027 年度不能发布：缴费期中没有“集中缴费期”，无法发布" in page_messages(resp)
    py.refresh_from_db()
    assert (py.status, py.published_at, py.published_by) == ("draft", None, None)


def test_unpublish_through_the_admin(policies, policy_admin):
    py = PolicyYear.objects.get(region_id="610400", year=2025)
    resp = logged_in(policy_admin).post(CHANGELIST, {"action": "unpublish", "_selected_action": [py.pk]},
                                        follow=True)
    assert "已撤回为草稿：咸阳市 2025 年度" in page_messages(resp)
    py.refresh_from_db()
    assert (py.status, py.published_at, py.published_by) == ("draft", None, None)


def test_caseworker_has_no_publish_action(policies, caseworker):
    py = PolicyYear.objects.get(region_id="610400", year=2025)
    resp = logged_in(caseworker).get(CHANGELIST)
    assert 'value="publish"' not in resp.content.decode()
    logged_in(caseworker).post(CHANGELIST, {"action": "unpublish", "_selected_action": [py.pk]})
    py.refresh_from_db()
    assert py.status == "published"


@pytest.mark.parametrize("region, from_year", [("330200", 2025), ("630100", 2025), ("610400", 2025),
                                                ("141100", 2026), ("310000", 2025)])
def test_saving_the_change_form_unchanged_keeps_every_value(policies, policy_admin, region, from_year):
    """Unset figures stay NULL, dates and date-times survive the form (Shanghai's 17:00 cut-off)."""
    py = clone_policy_year(region=region, from_year=from_year, to_year=from_year + 3).policy_year
    before = policy_year_as_data(py)
    client = logged_in(policy_admin)

    resp = client.post(change_url(py), form_values(client.get(change_url(py))))

    assert resp.status_code == 302, resp.context and (resp.context["errors"], resp.context["inline_admin_formsets"] and [
        f.formset.errors for f in resp.context["inline_admin_formsets"]])
    assert same_policy(policy_year_as_data(PolicyYear.objects.get(pk=py.pk)), before)
    # and the draft is still an exact copy, so cloning again is a no-op
    assert clone_policy_year(region=region, from_year=from_year, to_year=from_year + 3).created is False
