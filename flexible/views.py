"""The flexible-employment payment certificate (《社会保险费缴费证明》, issue 13): the
caseworker's printable page and its PDF, per paid enrollment, region scoped as the resident
certificate is.  Thin: ``selectors.flexible_certificate_parts`` decides (the ledger payment's
certificate through ``payments.certificates.scheme_certificate``); the QR code, verification
URL and PDF rendering are the resident certificate's own (``payments.views_certificates``)."""

from __future__ import annotations

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.views.decorators.http import require_GET

from core import clock
from payments.certificates import CertificateError, NotPaid
from payments.views_certificates import qr_data_uri, render_pdf, verify_url

from .models import FlexibleEnrollment
from .selectors import flexible_certificate_parts, flexible_enrollments_for

PAGE = "admin/flexible/certificate.html"


def _enrollment(request, enrollment_id: int) -> FlexibleEnrollment:
    if not request.user.has_perm("flexible.view_flexibleenrollment"):
        raise PermissionDenied
    qs = flexible_enrollments_for(request.user, FlexibleEnrollment.objects.select_related("resident", "region"))
    e = qs.filter(pk=enrollment_id).first()
    if e is None:  # absent or another region's: the same answer
        raise Http404("未找到该灵活就业人员参保登记")
    return e


def _context(request, e: FlexibleEnrollment) -> dict:
    context = {**admin.site.each_context(request), "enrollment": e, "resident": e.resident,
               "title": "缴费证明"}
    try:
        cert, parts = flexible_certificate_parts(e, today=clock.today())
    except CertificateError as exc:
        context.update(error=exc.message, available_from=exc.available_from,
                       status=404 if isinstance(exc, NotPaid) else 200)
        return context
    url = verify_url(request, cert.code)
    context.update(cert=cert, parts=parts, verify_url=url, qr=qr_data_uri(url), status=200)
    return context


@require_GET
def certificate_page(request, enrollment_id: int):
    context = _context(request, _enrollment(request, enrollment_id))
    return render(request, PAGE, context, status=context["status"])


@require_GET
def certificate_pdf(request, enrollment_id: int):
    context = _context(request, _enrollment(request, enrollment_id))
    if "cert" not in context:
        return render(request, PAGE, context, status=context["status"] if context["status"] != 200 else 409)
    cert = context["cert"]
    pdf = render_pdf(render_to_string("flexible/certificate_pdf.html", context, request=request))
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="flexible-certificate-{cert.year}-{cert.enrollment_id}.pdf"'
    return response
