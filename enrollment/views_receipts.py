"""参保登记回执's pages: printable HTML and PDF, in the admin (login, region scoped).  Thin:
``enrollment.receipts`` decides."""

from __future__ import annotations

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.views.decorators.http import require_GET

from accounts.scoping import scope
from core import clock
from core.pdf import render_pdf

from .models import Enrollment
from .receipts import ReceiptError, receipt_for

CSS = "payments/certificate.css"  # the printed documents share one sheet


def _enrollment(request, enrollment_id: int) -> Enrollment:
    if not request.user.has_perm("enrollment.view_enrollment"):
        raise PermissionDenied
    e = (scope(Enrollment.objects.select_related("resident", "region", "registered_by"), request.user)
         .filter(pk=enrollment_id).first())
    if e is None:  # absent or another region's: the same answer
        raise Http404("未找到该参保登记")
    return e


def _context(request, e: Enrollment) -> dict:
    context = {**admin.site.each_context(request), "enrollment": e, "resident": e.resident, "title": "参保登记回执"}
    try:
        context["receipt"] = receipt_for(e, today=clock.today())
    except ReceiptError as exc:
        context["error"] = exc.message
    return context


@require_GET
def receipt_page(request, enrollment_id: int):
    context = _context(request, _enrollment(request, enrollment_id))
    return render(request, "admin/enrollment/receipt.html", context, status=409 if "error" in context else 200)


@require_GET
def receipt_pdf(request, enrollment_id: int):
    context = _context(request, _enrollment(request, enrollment_id))
    if "error" in context:
        return render(request, "admin/enrollment/receipt.html", context, status=409)
    r = context["receipt"]
    pdf = render_pdf(render_to_string("enrollment/receipt_pdf.html", context, request=request), (CSS,))
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="registration-{r.year}-{r.enrollment_id}.pdf"'
    return response


# --- 重新登记通知书 (printed from the list of 须重新登记人员) ------------------------------------

def _notices(request):
    from .models import ReregistrationNotice
    from .receipts import NOTICE_LIMIT

    if not request.user.has_perm("enrollment.view_reregistrationnotice"):
        raise PermissionDenied
    raw = [p for p in request.GET.get("ids", "").split(",") if p.strip()]
    if not raw or len(raw) > NOTICE_LIMIT or not all(p.strip().isdigit() and len(p.strip()) < 12 for p in raw):
        return None, f"请在“须重新登记人员”列表中勾选要打印的人员（一次最多 {NOTICE_LIMIT} 人）"
    ids = sorted({int(p) for p in raw})
    found = list(scope(ReregistrationNotice.objects.select_related("resident", "region"), request.user)
                 .filter(pk__in=ids).order_by("region_id", "resident__name", "pk"))
    if len(found) != len(ids):  # absent or another region's: the same answer
        raise Http404("未找到所选的重新登记人员")
    return found, ""


def _notice_context(request):
    from .receipts import notice_letters

    found, error = _notices(request)
    context = {**admin.site.each_context(request), "title": "重新登记通知书"}
    if error:
        context["error"] = error
    else:
        context["letters"] = notice_letters(found, today=clock.today())
        context["ids"] = request.GET.get("ids", "")
    return context


@require_GET
def notices_page(request):
    context = _notice_context(request)
    return render(request, "admin/enrollment/notices.html", context, status=400 if "error" in context else 200)


@require_GET
def notices_pdf(request):
    context = _notice_context(request)
    if "error" in context:
        return render(request, "admin/enrollment/notices.html", context, status=400)
    pdf = render_pdf(render_to_string("enrollment/notices_pdf.html", context, request=request), (CSS,))
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = 'inline; filename="reregistration-notices.pdf"'
    return response
