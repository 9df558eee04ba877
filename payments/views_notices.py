"""代收缴费通知单's page and PDF (admin login, region scoped).  Thin: ``payments.notices``
decides who is on the list and what each owes."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.http import require_GET

from accounts.scoping import region_codes
from core import clock
from core.pdf import render_pdf
from policy.defaults import default_region, default_year, published_years
from policy.models import Region

from .notices import KINDS, NoticeError, collectors, notice_for

CSS = ("payments/certificate.css", "payments/collector-notice.css")  # the printed documents share one sheet


class NoticeForm(forms.Form):
    region = forms.ChoiceField(label="参保地", error_messages={"invalid_choice": "请选择您负责的参保地",
                                                             "required": "请选择参保地"})
    year = forms.TypedChoiceField(label="待遇年度", coerce=int,
                                  error_messages={"invalid_choice": "请选择所列的已发布政策年度",
                                                  "required": "请选择待遇年度"})
    kind = forms.ChoiceField(label="代收单位类型", choices=list(KINDS.items()),
                             error_messages={"invalid_choice": "请选择学校或村（社区）委员会",
                                             "required": "请选择代收单位类型"})
    collector = forms.CharField(label="代收单位名称", max_length=100,
                                error_messages={"required": "请填写学校或村（社区）委员会的名称",
                                                "max_length": "名称最多 100 字"},
                                widget=forms.TextInput(attrs={"list": "collector-names", "size": 30}),
                                help_text="学校：参保人信息中的“学校”；村（社区）委员会：集中代收缴费时的缴费单位名称")

    def __init__(self, *args, regions=(), years=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["region"].choices = regions
        self.fields["year"].choices = [(y, f"{y} 年度") for y in years]


def _regions(user) -> list[tuple[str, str]]:
    codes = region_codes(user)
    qs = Region.objects.order_by("code")
    if codes is not None:
        qs = qs.filter(code__in=sorted(codes))
    return [(r.code, r.name) for r in qs]


def _context(request) -> dict:
    user = request.user
    if not (user.has_perm("payments.view_payment") and user.has_perm("enrollment.view_enrollment")):
        raise PermissionDenied
    regions = _regions(user)
    names = dict(regions)
    today = clock.today()
    region = request.GET.get("region") or default_region(region_codes(user)) or (regions[0][0] if regions else "")
    years = published_years([region]) if region in names else []
    initial = {"region": region, "year": default_year(years, today), "kind": "school"}
    bound = bool(request.GET.get("collector") or request.GET.get("submitted"))
    form = NoticeForm(request.GET if bound else None, initial=initial, regions=regions, years=years)
    context = {**admin.site.each_context(request), "title": "代收缴费通知单", "form": form, "today": today,
               "collectors": collectors(region=region, year=initial["year"]) if region in names and years else []}
    if bound and form.is_valid():
        d = form.cleaned_data
        try:
            context["notice"] = notice_for(region=d["region"], region_name=names[d["region"]], year=d["year"],
                                           kind=d["kind"], collector=d["collector"], today=today)
        except NoticeError as exc:
            context["error"] = exc.message
        else:
            context["pdf_url"] = f"{reverse('payments_collector_notice_pdf')}?{request.GET.urlencode()}"
    return context


@require_GET
def notice_page(request):
    context = _context(request)
    status = 400 if context["form"].errors or "error" in context else 200
    return render(request, "admin/payments/collector_notice.html", context, status=status)


@require_GET
def notice_pdf(request):
    context = _context(request)
    if "notice" not in context:
        return render(request, "admin/payments/collector_notice.html", context, status=400)
    n = context["notice"]
    pdf = render_pdf(render_to_string("payments/collector_notice_pdf.html", context, request=request), CSS)
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="collector-notice-{n.region}-{n.year}.pdf"'
    return response
