"""缴费测算: the quote calculator page in the admin, with each step explained."""

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
from .rules.types import HISTORY_VALUES, IDENTITIES, STUDENT_STATUSES, TIMING_NAMES

HISTORY_YEARS = range(2025, 2031)
IDENTITY_ROWS = 3


def _region_choices():
    return [(r.code, f"{r.name}（{r.code}）") for r in Region.objects.order_by("code")]


class QuoteForm(forms.Form):
    region = forms.ChoiceField(label="参保地")
    year = forms.IntegerField(label="待遇年度", min_value=2000, max_value=2100)
    paid_on = forms.DateField(label="缴费（登记）日期", widget=DateInput())
    birth_date = forms.DateField(label="出生日期", widget=DateInput())
    hukou = forms.ChoiceField(label="户籍", choices=[("local", "本地户籍"), ("nonlocal", "外地户籍")])
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

    def request_json(self) -> dict:
        d = self.cleaned_data
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
}


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
        return {"region": region, "year": default_year(years, today), "paid_on": today, "hukou": "local"}

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
        else:
            ctx["category_name"] = category_name(answer["region"], answer["year"], answer["category"])
            ctx["timing_name"] = TIMING_NAMES.get(answer["timing"], answer["timing"])
            ctx["assistance_name"] = (IDENTITIES.get(answer["assistance"]["identity"])
                                      if answer["assistance"] else None)
        return self.render_to_response(ctx)
