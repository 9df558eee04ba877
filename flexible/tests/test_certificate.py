"""The flexible-employment payment certificate's page and PDF (issue 13): the exact fields with
each part of the amount (a retired person's basic 不缴纳), the PDF, the refusals in words (before
the 5th day after payment, unpaid, cancelled), region isolation, the admin's link, and the code
on the page verifying on the public /verify/ page."""

from __future__ import annotations

import re
import zlib
from datetime import date
from decimal import Decimal

import pytest
from django.core.cache import cache

from enrollment.tests.support import person
from flexible.models import FlexibleEnrollment
from flexible.services import flexible_cancel, flexible_enroll, flexible_record_payment
from payments.certificates import certificate_code
from payments.models import Payment

from .test_admin import flex_caseworker

pytestmark = pytest.mark.django_db
DEC1 = date(2024, 12, 1)
WANG_ID = "610402197001010017"
WANG_MASKED = "610402********0017"


@pytest.fixture(autouse=True)
def _fresh_rate_limit():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def today(settings):
    def pin(day: date):
        settings.BUSINESS_DATE = day
    pin(DEC1)
    return pin


@pytest.fixture
def wang(policies, today):
    return person("610402", "19700101", name="王建国", today=DEC1)


def enroll(r, status="in_service"):
    return flexible_enroll(resident=r, year=2025, person_status=status, file_held_at="reemployment_centre",
                           paid_previous_year=True, actor=None, today=DEC1)


def pay(e, amount, on=date(2024, 12, 20), txn_id="SW-20241220-01"):
    return flexible_record_payment(enrollment=e, amount=Decimal(amount), paid_on=on, channel="tax_hall",
                                   txn_id=txn_id, actor=None)


@pytest.fixture
def paid_wang(wang, today):
    today(date(2024, 12, 20))
    e = enroll(wang)
    pay(e, "3676.80")
    return e


@pytest.fixture
def cw(db):
    return flex_caseworker("xy_cert", "610400")


def field(html: str, ident: str) -> str:
    m = re.search(rf'id="{ident}"[^>]*>(.*?)</', html, re.S)
    assert m, ident
    return re.sub(r"<[^>]+>", "", m.group(1)).strip()


def page_of(client, user, e, suffix=""):
    client.force_login(user)
    return client.get(f"/admin/flexible/certificate/{e.pk}/{suffix}")


FIELDS = ("name", "id", "region", "scheme", "person-status", "year", "part-basic", "part-large-medical",
          "part-critical-illness", "amount", "paid-on", "channel", "benefit", "issued", "code", "url")


def test_the_page_shows_the_exact_fields(client, paid_wang, cw, today):
    today(date(2024, 12, 25))  # paid 12-20: from the 5th day after
    assert paid_wang.resident.id_number == WANG_ID
    resp = page_of(client, cw, paid_wang)
    assert resp.status_code == 200
    html = resp.content.decode()
    p = Payment.objects.get(scheme="flexible_employment", scheme_enrollment_id=paid_wang.pk)
    code = certificate_code(paid_wang.pk, p.pk)
    assert {k: field(html, f"cert-{k}") for k in FIELDS} == {
        "name": "王建国", "id": WANG_MASKED, "region": "咸阳市", "scheme": "灵活就业人员医疗保险",
        "person-status": "在职人员", "year": "2025 年度", "part-basic": "3456.00 元",
        "part-large-medical": "172.80 元", "part-critical-illness": "48.00 元", "amount": "3676.80 元",
        "paid-on": "2024-12-20", "channel": "办税服务厅", "benefit": "2025-01-01 至 2025-12-31",
        "issued": "2024-12-25", "code": code, "url": f"http://testserver/verify/{code}"}
    assert 'id="cert-part-makeup"' not in html  # on time: nothing made up
    assert "社会保险费缴费证明" in html
    assert 'src="data:image/svg+xml' in html  # the QR code
    assert WANG_ID not in html
    assert f"/admin/flexible/certificate/{paid_wang.pk}/pdf/" in html


def test_a_retired_persons_basic_is_not_paid(client, wang, cw, today):
    today(date(2024, 12, 20))
    e = enroll(wang, "retired")
    pay(e, "220.80")
    today(date(2025, 1, 10))
    html = page_of(client, cw, e).content.decode()
    assert {k: field(html, f"cert-{k}") for k in
            ("person-status", "part-basic", "part-large-medical", "part-critical-illness", "amount")} == {
        "person-status": "退休人员", "part-basic": "不缴纳", "part-large-medical": "172.80 元",
        "part-critical-illness": "48.00 元", "amount": "220.80 元"}


def test_an_interruption_shows_the_make_up_within_basic(client, wang, cw, today):
    today(date(2025, 4, 10))
    e = enroll(wang)
    pay(e, "3676.80", on=date(2025, 3, 31))
    html = page_of(client, cw, e).content.decode()
    assert (field(html, "cert-part-basic"), field(html, "cert-part-makeup"), field(html, "cert-amount"),
            field(html, "cert-benefit")) == ("3456.00 元", "864.00 元", "3676.80 元", "2025-03-31 至 2025-12-31")
    assert "其中：补足中断期间基本医疗保险费" in html


def _cmaps(streams: list[bytes]) -> list[dict[int, str]]:
    maps = []
    for d in streams:
        if b"beginbfchar" not in d and b"beginbfrange" not in d:
            continue
        m: dict[int, str] = {}
        for block in re.findall(rb"beginbfchar(.*?)endbfchar", d, re.S):
            for src, dst in re.findall(rb"<([0-9a-fA-F]+)>\s*<([0-9a-fA-F]+)>", block):
                m[int(src, 16)] = bytes.fromhex(dst.decode()).decode("utf-16-be")
        for block in re.findall(rb"beginbfrange(.*?)endbfrange", d, re.S):
            for lo, hi, dst in re.findall(rb"<([0-9a-fA-F]+)>\s*<([0-9a-fA-F]+)>\s*<([0-9a-fA-F]+)>", block):
                first = int(dst, 16)
                for i, code in enumerate(range(int(lo, 16), int(hi, 16) + 1)):
                    m[code] = chr(first + i)
        maps.append(m)
    return maps


def _pdf_texts(pdf: bytes) -> list[str]:
    """The text WeasyPrint drew, read back without a PDF library: each text run (a TJ array of
    2-byte glyph codes) decoded by every font's ToUnicode map that knows all its glyphs — one
    text per map (a run is in one font, so a cell's words come out whole in its font's text)."""
    streams = []
    for m in re.finditer(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.S):
        try:
            streams.append(zlib.decompress(m.group(1)))
        except zlib.error:
            pass
    maps = _cmaps(streams)
    texts = [[] for _ in maps]
    for d in streams:
        for run in re.findall(rb"\[(.*?)\]\s*TJ", d, re.S):
            hexes = b"".join(re.findall(rb"<([0-9a-fA-F]*)>", run)).decode()
            codes = [int(hexes[i:i + 4], 16) for i in range(0, len(hexes), 4)]
            for i, cmap in enumerate(maps):
                if codes and all(c in cmap for c in codes):
                    texts[i].append("".join(cmap[c] for c in codes))
    return ["|".join(t) for t in texts]


def test_the_pdf_is_a_pdf_with_the_certificate(client, paid_wang, cw, today):
    today(date(2024, 12, 25))
    resp = page_of(client, cw, paid_wang, "pdf/")
    assert resp.status_code == 200
    assert resp["Content-Type"] == "application/pdf"
    assert resp["Content-Disposition"] == f'inline; filename="flexible-certificate-2025-{paid_wang.pk}.pdf"'
    pdf = resp.content
    assert pdf.startswith(b"%PDF")
    texts = [re.sub(r"\s+", "", t) for t in _pdf_texts(pdf)]
    p = Payment.objects.get(scheme="flexible_employment")
    for expected in ("社会保险费缴费证明", "王建国", WANG_MASKED, "灵活就业人员医疗保险", "基本医疗保险", "3456.00元",
                     "大额医疗补助", "172.80元", "大病保险", "48.00元", "3676.80元", "2024-12-20", "办税服务厅",
                     "2025-01-01至2025-12-31", certificate_code(paid_wang.pk, p.pk)):
        assert any(expected in t for t in texts), expected
    assert not any(WANG_ID in t for t in texts) and WANG_ID.encode() not in pdf


def test_before_the_fifth_day_it_is_refused_naming_the_date(client, paid_wang, cw, today):
    today(date(2024, 12, 24))
    resp = page_of(client, cw, paid_wang)
    assert resp.status_code == 200
    html = resp.content.decode()
    assert field(html, "certificate-message") == (
        "缴费日期为 2024年12月20日，《社会保险费缴费证明》缴费 5 日后即 2024年12月25日 起可以打印")
    assert 'id="certificate"' not in html and 'id="cert-code"' not in html
    resp = page_of(client, cw, paid_wang, "pdf/")
    assert resp.status_code == 409
    assert not resp.content.startswith(b"%PDF")
    assert "2024年12月25日 起可以打印" in resp.content.decode()


def test_an_unpaid_enrollment_has_no_certificate(client, wang, cw):
    e = enroll(wang)
    for suffix in ("", "pdf/"):
        resp = page_of(client, cw, e, suffix)
        assert resp.status_code == 404
        assert field(resp.content.decode(), "certificate-message") == (
            "2025 年度灵活就业人员医疗保险已登记（待缴费），尚未缴费，不能开具缴费证明")


def test_a_cancelled_enrollment_has_no_certificate(client, wang, cw):
    e = enroll(wang)
    flexible_cancel(enrollment=e, reason="重复登记", actor=None)
    resp = page_of(client, cw, e)
    assert resp.status_code == 404
    assert field(resp.content.decode(), "certificate-message") == (
        "2025 年度灵活就业人员医疗保险登记已注销，不能开具缴费证明")


def test_another_regions_caseworker_gets_404(client, paid_wang, today):
    today(date(2024, 12, 25))
    other = flex_caseworker("lv_flex", "141100")
    for suffix in ("", "pdf/"):
        assert page_of(client, other, paid_wang, suffix).status_code == 404
    assert page_of(client, other, FlexibleEnrollment(pk=paid_wang.pk + 1000)).status_code == 404


def test_without_the_flexible_permission_it_is_forbidden(client, paid_wang, today):
    from django.contrib.auth import get_user_model

    from accounts.models import StaffRegion

    today(date(2024, 12, 25))
    staff = get_user_model().objects.create_user(username="xy_staff", password="x", is_staff=True)
    StaffRegion.objects.create(user=staff, region_id="610400")
    assert page_of(client, staff, paid_wang).status_code == 403


def test_anonymous_is_sent_to_the_login(client, paid_wang):
    resp = client.get(f"/admin/flexible/certificate/{paid_wang.pk}/")
    assert resp.status_code == 302
    assert resp["Location"].startswith("/admin/login/")


def test_the_code_on_the_page_verifies_on_the_public_page(client, paid_wang, cw, today):
    today(date(2024, 12, 25))
    html = page_of(client, cw, paid_wang).content.decode()
    url = field(html, "cert-url")
    client.logout()
    resp = client.get(url.removeprefix("http://testserver"))
    assert resp.status_code == 200
    page = resp.content.decode()
    assert "该缴费证明真实有效" in page
    assert "王**" in page and "610***********0017" in page and WANG_ID not in page
    assert "3676.80" in page


def test_the_admin_record_links_to_the_certificate_once_available(client, paid_wang, cw, today):
    client.force_login(cw)
    url = f"/admin/flexible/flexibleenrollment/{paid_wang.pk}/change/"
    today(date(2024, 12, 24))
    page = client.get(url).content.decode()
    assert 'id="certificate-link"' not in page
    assert "2024年12月25日 起可以打印" in page
    today(date(2024, 12, 25))
    page = client.get(url).content.decode()
    assert f'href="/admin/flexible/certificate/{paid_wang.pk}/" id="certificate-link"' in page
