"""The admin's roster upload form: the file, the region (one of the user's own) and the
benefit year, checked on the server whatever the browser sent."""

from __future__ import annotations

from datetime import date

from django import forms

from accounts.scoping import region_codes
from policy.models import Region
from policy.rules import QuoteError
from policy.selectors import published_spec

MAX_UPLOAD_BYTES = 50 * 1024 * 1024


def default_year(region_code: str | None, today: date) -> int:
    """The benefit year a roster is most likely for: next year while its published
    policy's 集中缴费期 is open on the business date, otherwise the business date's year."""
    upcoming = today.year + 1
    if region_code:
        try:
            spec = published_spec(region_code, upcoming)
        except QuoteError:
            return today.year
        year_end = date(upcoming, 12, 31)
        if any(p.kind == "window" and p.contains(today, year_end) for p in spec.periods):
            return upcoming
    return today.year


def user_regions(user) -> list[tuple[str, str]]:
    codes = region_codes(user)
    qs = Region.objects.order_by("code")
    if codes is not None:
        qs = qs.filter(code__in=codes)
    return [(r.code, f"{r.name}（{r.code}）") for r in qs]


class RosterUploadForm(forms.Form):
    import_file = forms.FileField(label="名单文件", help_text="xlsx 或 csv（UTF-8 或 GBK）；列：姓名、身份证号码、"
                                                       "困难类别、认定部门、认定日期")
    region = forms.ChoiceField(label="地区")
    year = forms.IntegerField(label="待遇年度", min_value=2000, max_value=2100)
    skip_invalid = forms.BooleanField(label="跳过错误行", required=False,
                                      help_text="勾选：导入正确的行，错误行列出不导入；不勾选：有错误行时整份名单不导入")

    def __init__(self, *args, user, today: date, **kwargs):
        super().__init__(*args, **kwargs)
        choices = user_regions(user)
        self.fields["region"].choices = choices
        if choices and not self.is_bound:
            self.initial.setdefault("region", choices[0][0])
            self.initial.setdefault("year", default_year(choices[0][0], today))
        if not choices:
            self.fields["region"].help_text = "您没有经办地区，不能导入名单，请联系管理员"

    def clean_import_file(self):
        f = self.cleaned_data["import_file"]
        if f.size > MAX_UPLOAD_BYTES:
            raise forms.ValidationError(f"文件过大（超过 {MAX_UPLOAD_BYTES // 1024 // 1024} MB），请分成几份导入")
        if f.size == 0:
            raise forms.ValidationError("文件是空的")
        return f
