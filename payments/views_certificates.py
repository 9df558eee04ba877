"""The payment certificate's pages: the caseworker's printable page and PDF (admin, region
scoped) and the public verification page (no login).  Thin: ``payments.certificates`` decides."""

from __future__ import annotations

import segno
from django.conf import settings
from django.contrib import admin
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.http import require_GET

from accounts.scoping import scope
from core import clock
from core import pdf as core_pdf
from enrollment.models import Enrollment

from . import certificates
from .certificates import CertificateError, NotPaid

VERIFY_LIMIT = 30  # look-ups per client address and minute
CSS = "payments/certificate.css"


# --- the caseworker's certificate ----------------------------------------------------------

def _enrollment(request, enrollment_id: int) -> Enrollment:
    if not request.user.has_perm("enrollment.view_enrollment"):
        raise PermissionDenied
    qs = scope(Enrollment.objects.select_related("resident", "region"), request.user)
    e = qs.filter(pk=enrollment_id).first()
    if e is None:  # absent or another region's: the same answer
        raise Http404("未找到该参保登记")
    return e


def verify_url(request, code: str) -> str:
    path = reverse("certificate_verify", args=[code])
    base = getattr(settings, "PUBLIC_BASE_URL", "")
    return base.rstrip("/") + path if base else request.build_absolute_uri(path)


def qr_data_uri(url: str) -> str:
    return segno.make(url, error="m").svg_data_uri(scale=4, border=2)


def _context(request, e: Enrollment) -> dict:
    context = {**admin.site.each_context(request), "enrollment": e, "title": "缴费证明",
               "resident": e.resident}
    try:
        cert = certificates.certificate_for(e, today=clock.today())
    except CertificateError as exc:
        context.update(error=exc.message, available_from=exc.available_from,
                       status=404 if isinstance(exc, NotPaid) else 200)
        return context
    url = verify_url(request, cert.code)
    context.update(cert=cert, verify_url=url, qr=qr_data_uri(url), status=200)
    return context


@require_GET
def certificate_page(request, enrollment_id: int):
    context = _context(request, _enrollment(request, enrollment_id))
    return render(request, "admin/payments/certificate.html", context, status=context["status"])


@require_GET
def certificate_pdf(request, enrollment_id: int):
    context = _context(request, _enrollment(request, enrollment_id))
    if "cert" not in context:
        status = context["status"] if context["status"] != 200 else 409
        return render(request, "admin/payments/certificate.html", context, status=status)
    cert = context["cert"]
    pdf = render_pdf(render_to_string("payments/certificate_pdf.html", context, request=request))
    response = HttpResponse(pdf, content_type="application/pdf")
    filename = f"certificate-{cert.year}-{cert.enrollment_id}.pdf"
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    return response


def render_pdf(html: str) -> bytes:
    """The certificate as PDF (core.pdf: WeasyPrint, CJK font by name, only data: URIs)."""
    return core_pdf.render_pdf(html, (CSS,))


# --- the public verification page -------------------------------------------------------------

def _client(request) -> str:
    return request.META.get("REMOTE_ADDR", "") or "unknown"


def _over_limit(request) -> bool:
    key = f"certificate-verify:{_client(request)}:{int(clock.now().timestamp()) // 60}"
    cache.add(key, 0, timeout=120)
    try:
        return cache.incr(key) > VERIFY_LIMIT
    except ValueError:  # evicted between add and incr
        return False


@require_GET
def verify_lookup(request):
    """/verify/?code=… (the form on the page) → /verify/<code>."""
    code = certificates.normalise_code(request.GET.get("code", ""))
    if code:
        return redirect("certificate_verify", code=certificates.group(code))
    status = 404 if request.GET.get("code") else 200
    return render(request, "payments/verify.html", {"asked": bool(request.GET.get("code"))}, status=status)


@require_GET
def verify_page(request, code: str):
    if _over_limit(request):
        return render(request, "payments/verify.html", {"limited": True}, status=429)
    found = certificates.verify(code)
    if found is None:
        return render(request, "payments/verify.html", {"asked": True}, status=404)
    response = render(request, "payments/verify.html", {"found": found, "asked": True},
                      status=200 if found.valid else 410)
    response["X-Robots-Tag"] = "noindex"
    response["Cache-Control"] = "no-store"
    return response
