"""The admin import forms in plain Chinese, with 跳过错误行 (import the good rows of a file
with faulty ones; the faulty rows are listed in the run's error report)."""

from django import forms
from import_export.forms import ConfirmImportForm, ImportForm


class ChineseImportForm(ImportForm):
    def __init__(self, formats, resources, **kwargs):
        super().__init__(formats, resources, **kwargs)
        self.fields["import_file"].label = "文件"
        self.fields["import_file"].help_text = "xlsx 或 csv（UTF-8 或 GBK），第一行（或标题行之后）为列名"
        self.fields["format"].label = "文件格式"
        self.fields["format"].choices = [(v, "请选择" if label == "---" else label)
                                         for v, label in self.fields["format"].choices]


class ServiceImportForm(ChineseImportForm):
    skip_invalid = forms.BooleanField(
        label="跳过错误行", required=False,
        help_text="勾选后，有错误的行不导入、列入错误报告，其余各行照常导入；不勾选时，文件有任何错误行则整份不导入")

    field_order = ["resource", "import_file", "format", "skip_invalid"]


class ServiceConfirmImportForm(ConfirmImportForm):
    skip_invalid = forms.BooleanField(required=False, widget=forms.HiddenInput())


# --- 登记参保: only the years that can succeed ---------------------------------------------

PROBE = 20  # people per region priced to decide whether a year can be registered


def registrable_years(residents, years, today) -> tuple[list[int], dict[int, str]]:
    """Of the published ``years``, those in which the selected ``residents`` can be registered
    on ``today``: a year is kept when the rules price at least one of them (up to PROBE people
    of each region, priced on the registration date exactly as ``enrollment_register``
    prices); a year whose policy cannot price anyone (a figure the sources leave unset, a
    period that has closed) is withheld with the rules' reason in words.

    Returns (years kept, newest first; {withheld year: reason})."""
    from .pricing import registration_date
    from .selectors import quote_requests_for
    from .services import EnrollmentError, run_quote, spec_for

    by_region: dict[str, list] = {}
    for r in residents.order_by("region_id", "id").iterator():
        group = by_region.setdefault(r.region_id, [])
        if len(group) < PROBE:
            group.append(r)
    kept, withheld = [], {}
    for year in years:
        reason = "所选人员均不能登记"
        ok = False
        for region, people in by_region.items():
            try:
                spec = spec_for(region, year)
            except EnrollmentError as exc:
                reason = exc.message
                continue
            on = registration_date(spec, today)
            for req in quote_requests_for(people, year, on).values():
                try:
                    run_quote(spec, req)
                except EnrollmentError as exc:
                    reason = exc.message
                else:
                    ok = True
                    break
            if ok:
                break
        if ok:
            kept.append(year)
        else:
            withheld[year] = reason
    return kept, withheld
