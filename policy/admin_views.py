"""缴费测算: the quote calculator page in the admin, with each step explained.

Two schemes (issue 13): 城乡居民基本医疗保险 (the default) and 灵活就业人员医疗保险, Xianyang's
flexible-employment scheme (002).  The page builds the same request the quote API takes
(``"scheme": "flexible_employment"`` with its ``flexible`` facts) and shows the answer in
words: each part of the contribution, the make-up of an interruption, the timing, benefit
start and waiting, the certificate date and the move to retired status; a region without
the scheme is refused in words (scheme_not_offered)."""

from __future__ import annotations

from django import forms
from django.contrib.auth.mixins import PermissionRequiredMixin
from django.views.generic import FormView

from accounts.scoping import region_codes
from core import clock
from core.widgets import DateInput

from .defaults import default_region, default_year, published_years
from .models import PolicyYear, PolicyYearStatus, Region
from .quoting import quote_one
from .selectors import published_spec
from .rules.flexible import FILE_HOLDERS, FLEX_STATUSES, FLEX_TIMINGS
from .rules.io import SCHEMES
from .rules.types import HISTORY_VALUES, IDENTITIES, STUDENT_STATUSES, TIMING_NAMES

HISTORY_YEARS = range(2025, 2031)
IDENTITY_ROWS = 3


def _region_choices():
    return [(r.code, f"{r.name}（{r.code}）") for r in Region.objects.order_by("code")]


FLEXIBLE = "flexible_employment"
RESIDENT_FIELDS = ("birth_date", "hukou", "residence_permit", "student", "employee_insured",
                   "parent_insured_locally", "left_other_scheme_on")
FLEXIBLE_FIELDS = ("flex_status", "file_held_at", "paid_previous_year", "special_group",
                   "retirement_age_reached_on")


class QuoteForm(forms.Form):
    scheme = forms.ChoiceField(label="险种", choices=list(SCHEMES.items()), initial="resident", required=False,
                               widget=forms.RadioSelect)
    region = forms.ChoiceField(label="参保地")
    year = forms.IntegerField(label="待遇年度", min_value=2000, max_value=2100)
    paid_on = forms.DateField(label="缴费（登记）日期", widget=DateInput())
    birth_date = forms.DateField(label="出生日期", widget=DateInput(), required=False)
    hukou = forms.ChoiceField(label="户籍", choices=[("local", "本地户籍"), ("nonlocal", "外地户籍")], required=False)
    residence_permit = forms.BooleanField(label="持有效居住证", required=False)
    student = forms.ChoiceField(label="学生身份", required=False,
                                choices=[("", "非学生")] + list(STUDENT_STATUSES.items()))
    employee_insured = forms.BooleanField(label="正参加职工医保", required=False)
    parent_insured_locally = forms.BooleanField(label="父母一方在本地参保（外地新生儿）", required=False)
    left_other_scheme_on = forms.DateField(
        label="退出其他制度保障日期", required=False, widget=DateInput(),
        help_text="职工医保中断、退役、刑满释放等")
    repaired_years = forms.MultipleChoiceField(
        label="已补缴（修复）的断保年度", required=False, widget=forms.CheckboxSelectMultiple,
        choices=[(str(y), str(y)) for y in HISTORY_YEARS])
    # 灵活就业人员医疗保险 (002): the facts its rule decides on; the interruption follows
    # from the payment date (months after the pay-by date), so it is not asked.
    flex_status = forms.ChoiceField(label="人员状态", required=False, choices=list(FLEX_STATUSES.items()),
                                    initial="in_service")
    file_held_at = forms.ChoiceField(label="档案托管", required=False, choices=list(FILE_HOLDERS.items()),
                                     initial="reemployment_centre")
    paid_previous_year = forms.BooleanField(label="已缴纳上一年度医疗保险费", required=False, initial=True)
    special_group = forms.BooleanField(label="特殊群体、困难军转干部、对越作战、涉核退休人员", required=False)
    retirement_age_reached_on = forms.DateField(
        label="到达法定退休年龄日期", required=False, widget=DateInput(),
        help_text="在职人员当年到达法定退休年龄的填写；中断月数按缴费日期与缴费截止日自动计算")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["region"].choices = _region_choices()
        identity_choices = [("", "—")] + list(IDENTITIES.items())
        for i in range(1, IDENTITY_ROWS + 1):
            self.fields[f"identity_{i}"] = forms.ChoiceField(
                label=f"困难身份 {i}", required=False, choices=identity_choices)
            self.fields[f"certified_on_{i}"] = forms.DateField(
                label=f"认定日期 {i}", required=False, widget=DateInput())
        history_choices = [("", "未填（按未参保计）")] + list(HISTORY_VALUES.items())
        for y in HISTORY_YEARS:
            self.fields[f"history_{y}"] = forms.ChoiceField(
                label=f"{y} 年度参保情况", required=False, choices=history_choices)

    def identity_rows(self):
        return [(self[f"identity_{i}"], self[f"certified_on_{i}"]) for i in range(1, IDENTITY_ROWS + 1)]

    def history_fields(self):
        """(year, bound field, shown): only years before the quote year are shown (quote.js
        follows a changed year in the browser; request_json ignores the others anyway)."""
        year = self._quote_year()
        return [(y, self[f"history_{y}"], year is not None and y < year) for y in HISTORY_YEARS]

    def _quote_year(self) -> int | None:
        value = self["year"].value()
        try:
            return int(value)
        except (TypeError, ValueError):
            return None

    def clean(self):
        d = super().clean()
        d["scheme"] = d.get("scheme") or "resident"  # a form posted without it (older pages) is resident
        if d["scheme"] == FLEXIBLE:
            if not d.get("flex_status"):
                self.add_error("flex_status", "请选择人员状态")
            if not d.get("file_held_at"):
                self.add_error("file_held_at", "请选择档案托管机构")
        else:
            if "birth_date" not in self.errors and not d.get("birth_date"):
                self.add_error("birth_date", "请填写出生日期")
            if "hukou" not in self.errors and not d.get("hukou"):
                self.add_error("hukou", "请选择户籍")
        return d

    def resident_fields(self):
        return [self[name] for name in ("region", "year", "paid_on", *RESIDENT_FIELDS)]

    def flexible_fields(self):
        return [self[name] for name in FLEXIBLE_FIELDS]

    def request_json(self) -> dict:
        d = self.cleaned_data
        if d["scheme"] == FLEXIBLE:
            reached = d.get("retirement_age_reached_on")
            return {
                "scheme": FLEXIBLE, "region": d["region"], "year": d["year"], "paid_on": d["paid_on"].isoformat(),
                "flexible": {"status": d["flex_status"], "file_held_at": d["file_held_at"],
                             "paid_previous_year": d["paid_previous_year"], "special_group": d["special_group"],
                             "retirement_age_reached_on": reached.isoformat() if reached else None},
            }
        identities = []
        for i in range(1, IDENTITY_ROWS + 1):
            if d.get(f"identity_{i}"):
                on = d.get(f"certified_on_{i}")
                identities.append({"code": d[f"identity_{i}"],
                                   "certified_on": on.isoformat() if on else None})
        return {
            "region": d["region"],
            "year": d["year"],
            "paid_on": d["paid_on"].isoformat(),
            "person": {
                "birth_date": d["birth_date"].isoformat(),
                "hukou": d["hukou"],
                "residence_permit": d["residence_permit"],
                "student": d["student"] or None,
                "employee_insured": d["employee_insured"],
                "parent_insured_locally": d["parent_insured_locally"],
            },
            "identities": identities,
            "history": {str(y): d[f"history_{y}"] for y in HISTORY_YEARS
                        if d.get(f"history_{y}") and y < d["year"]},
            "repaired_years": sorted(int(y) for y in d.get("repaired_years") or []),
            "left_other_scheme_on": d["left_other_scheme_on"].isoformat() if d.get("left_other_scheme_on") else None,
        }


ERROR_TITLES = {
    "invalid_input": "输入有误",
    "policy_missing": "没有已发布的政策",
    "not_eligible": "不符合参保条件",
    "payment_day_not_allowed": "当日不可缴费",
    "window_not_open": "缴费期尚未开始",
    "window_closed": "不在缴费期内",
    "value_not_in_source": "所需数值未设定（来源文件未给出）",
    "scheme_not_offered": "该地区没有灵活就业人员医疗保险",
}
FLEX_WORDS = {"basic": "基本医疗保险", "large_medical": "大额医疗补助", "critical_illness": "大病保险"}


def category_name(region: str, year: int, code: str) -> str:
    """The policy's own name of a category (宁波 adult → 成年居民)."""
    spec = published_spec(region, year)
    return next((c.name for c in spec.categories if c.code == code), "未知类别")


class QuoteView(PermissionRequiredMixin, FormView):
    template_name = "admin/policy/quote.html"
    form_class = QuoteForm
    permission_required = "policy.view_policyyear"
    admin_site = None

    def get_initial(self):
        """The user's region (its city before its counties), that region's year for the
        business date (published_years, default_year), and the business date as the payment day."""
        today = clock.today()
        region = default_region(region_codes(self.request.user))
        if region is None:
            region = Region.objects.order_by("code").values_list("code", flat=True).first()
        years = published_years([region]) if region else []
        return {"region": region, "year": default_year(years, today), "paid_on": today, "hukou": "local",
                "scheme": "resident", "flex_status": "in_service", "file_held_at": "reemployment_centre",
                "paid_previous_year": True}

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx.update(self.admin_site.each_context(self.request))
        ctx["title"] = "缴费测算"
        ctx["published"] = (PolicyYear.objects.filter(status=PolicyYearStatus.PUBLISHED)
                            .select_related("region").order_by("region_id", "year"))
        return ctx

    def form_valid(self, form):
        request_json = form.request_json()
        answer = quote_one(request_json, explain=True)
        ctx = self.get_context_data(form=form, answer=answer)
        if "error" in answer:
            ctx["error_title"] = ERROR_TITLES.get(answer["error"]["code"], answer["error"]["code"])
        elif answer.get("scheme") == FLEXIBLE:
            ctx["flexible"] = flexible_words(answer)
        else:
            ctx["category_name"] = category_name(answer["region"], answer["year"], answer["category"])
            ctx["timing_name"] = TIMING_NAMES.get(answer["timing"], answer["timing"])
            ctx["assistance_name"] = (IDENTITIES.get(answer["assistance"]["identity"])
                                      if answer["assistance"] else None)
        return self.render_to_response(ctx)


def flexible_words(answer: dict) -> dict:
    """The flexible answer as the page shows it: each part (a retired person's basic part
    "不缴纳"), the timing in words, the waiting, the dates."""
    held = {p["component"]: p["amount"] for p in answer["parts"]}
    parts = [(name, held.get(code)) for code, name in FLEX_WORDS.items()]
    return {
        "status_name": FLEX_STATUSES.get(answer["status"], answer["status"]),
        "parts": parts,
        "timing_name": FLEX_TIMINGS.get(answer["timing"], answer["timing"]),
        "makeup": answer["makeup_basic"] if answer["makeup_basic"] != "0.00" else None,
    }
