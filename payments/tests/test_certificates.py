"""The payment certificate (缴费证明): the page's exact fields, the PDF, the verification code
and the public page, the family-pool timing on a known calendar, region isolation, unpaid."""

from __future__ import annotations

import re
import shutil
import subprocess
import zlib
from datetime import date, datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.cache import cache

from core.models import CalendarDay, WorkdayCalendarYear
from enrollment.tests.support import caseworker, clone, person, register
from payments import certificates
from payments.certificates import Verified, available_from, certificate_code, verify
from payments.models import Payment
from payments.services import payment_record

pytestmark = pytest.mark.usefixtures("policies")

SHANGHAI = ZoneInfo("Asia/Shanghai")
ZHANG_ID = "141102198005010010"
ZHANG_MASKED = "141102********0010"  # the admin's mask: area code and last four
ZHANG_PUBLIC = "141***********0010"  # the public page: first three and last four
LI_ID = "141102198503020035"
DEC21 = date(2026, 12, 21)  # a Monday
CODE_RE = re.compile(r"^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){4}$")


@pytest.fixture(autouse=True)
def _fresh_rate_limit():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def today(settings):
    def pin(day: date):
        settings.BUSINESS_DATE = day
    pin(date(2026, 12, 1))
    return pin


def paid(resident, channel: str, txn_id: str, on: date = DEC21):
    e = register(resident, 2027, date(2026, 12, 1))
    payment_record(channel=channel, txn_id=txn_id, id_number=resident.id_number, name=resident.name,
                   year=2027, amount=Decimal("400.00"), paid_at=datetime.combine(on, time(10, 30), SHANGHAI),
                   actor="test")
    e.refresh_from_db()
    return e


@pytest.fixture
def lueliang_2027(today):
    clone("141100", 2026, 2027)


@pytest.fixture
def zhang(lueliang_2027):
    return paid(person("141102", "19800501", "001", name="张三"), "wechat", "WX-CERT-1")


@pytest.fixture
def li_pool(lueliang_2027):
    return paid(person("141102", "19850302", "003", name="李四"), "family_pool", "POOL-CERT-1")


@pytest.fixture
def calendar_2027(db):
    """2027 entered by hand (the library does not know it): New Year's Day off, a Friday."""
    y = WorkdayCalendarYear.objects.create(year=2027, notes="测试")
    CalendarDay.objects.create(year=y, date=date(2027, 1, 1), is_workday=False, name="元旦")
    return y


@pytest.fixture
def lv(db):
    return caseworker("lv", "141100")


def field(html: str, ident: str) -> str:
    m = re.search(rf'id="{ident}"[^>]*>(.*?)</', html, re.S)
    assert m, ident
    return re.sub(r"<[^>]+>", "", m.group(1)).strip()


def page_of(client, user, e, suffix=""):
    client.force_login(user)
    return client.get(f"/admin/payments/certificate/{e.pk}/{suffix}")


# --- the page and the PDF ------------------------------------------------------------------

def test_the_page_shows_the_exact_fields(client, zhang, lv, today):
    # 张三 has no 2026 enrollment: not continuous, so 3 months' waiting (benefits from 04-01)
    today(date(2026, 12, 22))
    assert zhang.resident.id_number == ZHANG_ID
    resp = page_of(client, lv, zhang)
    assert resp.status_code == 200
    html = resp.content.decode()
    payment = Payment.objects.get(enrollment=zhang, outcome="applied")
    code = certificate_code(zhang.pk, payment.pk)
    assert {k: field(html, f"cert-{k}") for k in
            ("name", "id", "region", "year", "category", "amount", "paid-on", "channel", "benefit",
             "issued", "code", "url")} == {
        "name": "张三", "id": ZHANG_MASKED, "region": "吕梁市", "year": "2027 年度", "category": "城乡居民",
        "amount": "400.00 元", "paid-on": "2026-12-21", "channel": "微信", "benefit": "2027-04-01 至 2027-12-31",
        "issued": "2026-12-22", "code": code, "url": f"http://testserver/verify/{code}"}
    assert CODE_RE.match(code)
    assert 'src="data:image/svg+xml' in html  # the QR code
    assert ZHANG_ID not in html
    assert f'/admin/payments/certificate/{zhang.pk}/pdf/' in html


def test_the_pdf_is_a_pdf(client, zhang, lv, today):
    today(date(2026, 12, 22))
    resp = page_of(client, lv, zhang, "pdf/")
    assert resp.status_code == 200
    assert resp["Content-Type"] == "application/pdf"
    assert resp.content.startswith(b"%PDF-")
    assert len(resp.content) > 5000
    assert ZHANG_ID.encode() not in resp.content


@pytest.mark.skipif(not shutil.which("fc-list"), reason="fontconfig not installed")
def test_the_pdf_embeds_the_cjk_font_when_installed(client, zhang, lv, today):
    today(date(2026, 12, 22))
    fonts = subprocess.run(["fc-list", ":lang=zh"], capture_output=True, text=True).stdout
    if "Noto" not in fonts:
        pytest.skip("fonts-noto-cjk not installed (the PDF still renders, see test_the_pdf_is_a_pdf)")
    pdf = page_of(client, lv, zhang, "pdf/").content
    assert b"CJK" in inflated(pdf)  # e.g. /BaseFont /ABCDEF+NotoSerifCJKsc-Regular


def inflated(pdf: bytes) -> bytes:
    """The PDF with its compressed streams (object streams hold the font names) inflated."""
    out = [pdf]
    for m in re.finditer(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.S):
        try:
            out.append(zlib.decompress(m.group(1)))
        except zlib.error:
            pass
    return b"\n".join(out)


def test_the_enrollment_page_links_to_the_certificate(client, zhang, lv):
    client.force_login(lv)
    html = client.get(f"/admin/enrollment/enrollment/{zhang.pk}/change/").content.decode()
    assert f'href="/admin/payments/certificate/{zhang.pk}/"' in html


# --- the code and the public page -------------------------------------------------------------

def test_the_code_verifies_and_a_tampered_code_does_not(zhang):
    payment = Payment.objects.get(enrollment=zhang, outcome="applied")
    code = certificate_code(zhang.pk, payment.pk)
    expected = Verified(name="张*", masked_id=ZHANG_PUBLIC, region="吕梁市", year=2027,
                        amount=Decimal("400.00"), paid_on=DEC21, valid=True)
    assert verify(code) == expected
    assert verify(code.replace("-", "").lower()) == expected  # typed without dashes, lower case
    wide = "".join(chr(ord(ch) + 0xFEE0) if ch != "-" else "－" for ch in code)  # 全角 (Chinese input method)
    assert verify(wide) == expected and verify(wide.lower()) == expected
    raw = code.replace("-", "")
    for i in (0, 7, 8, 19):  # the enciphered id part and the tag part
        swapped = "1" if raw[i] != "1" else "2"
        assert verify(raw[:i] + swapped + raw[i + 1:]) is None, i
    assert verify("") is None and verify("0000-0000-0000-0000-0000") is None
    assert raw[:8] != certificates._b32(payment.pk, 8)  # the id part is enciphered, not the plain id


def test_the_code_is_keyed_by_the_secret(zhang, settings):
    payment = Payment.objects.get(enrollment=zhang, outcome="applied")
    old = certificate_code(zhang.pk, payment.pk)
    old_secret = settings.SECRET_KEY
    settings.SECRET_KEY = "another-secret-key-for-the-test"
    assert certificate_code(zhang.pk, payment.pk) != old
    assert verify(old) is None
    settings.SECRET_KEY_FALLBACKS = [old_secret]  # a rotated key still verifies old certificates
    assert verify(old).name == "张*"


def test_the_public_page_confirms_without_the_full_id_number(client, zhang):
    payment = Payment.objects.get(enrollment=zhang, outcome="applied")
    code = certificate_code(zhang.pk, payment.pk)
    resp = client.get(f"/verify/{code}")
    assert resp.status_code == 200
    html = resp.content.decode()
    assert field(html, "verify-result") == "该缴费证明真实有效"
    assert {k: field(html, f"verify-{k}") for k in ("name", "id", "year", "amount", "paid-on")} == {
        "name": "张*", "id": ZHANG_PUBLIC, "year": "2027 年度", "amount": "400.00 元", "paid-on": "2026-12-21"}
    assert ZHANG_ID not in html and ZHANG_ID[3:14] not in html and "张三" not in html


def test_an_unknown_code_is_a_plain_404(client, zhang):
    resp = client.get("/verify/ABCD-EFGH-JKMN-PQRS-TVWX")
    assert resp.status_code == 404
    assert "未找到该证明" in resp.content.decode()
    assert client.get("/verify/not-a-code").status_code == 404


def test_the_public_page_is_rate_limited(client, zhang, monkeypatch):
    # the count is per client and minute: one fixed instant, so the requests cannot straddle
    # a minute boundary (they did once in CI, at 09:01:59.875)
    from payments import views_certificates

    instant = views_certificates.clock.now()
    monkeypatch.setattr(views_certificates.clock, "now", lambda: instant)
    for _ in range(certificates_limit()):
        assert client.get("/verify/ABCD-EFGH-JKMN-PQRS-TVWX").status_code == 404
    resp = client.get("/verify/ABCD-EFGH-JKMN-PQRS-TVWX")
    assert resp.status_code == 429
    assert "查询过于频繁" in resp.content.decode()


def certificates_limit() -> int:
    from payments.views_certificates import VERIFY_LIMIT

    return VERIFY_LIMIT


def test_the_verify_form_redirects_to_the_code(client, zhang):
    payment = Payment.objects.get(enrollment=zhang, outcome="applied")
    code = certificate_code(zhang.pk, payment.pk)
    resp = client.get("/verify/", {"code": code.replace("-", " ").lower()})
    assert resp.status_code == 302 and resp["Location"] == f"/verify/{code}"


# --- when the certificate is available ----------------------------------------------------------

def test_the_rule_pool_deductions_wait_ten_working_days():
    fake = {(DEC21, 10): date(2027, 1, 5)}
    assert available_from("family_pool", DEC21, add_workdays=lambda d, n: fake[(d, n)]) == date(2027, 1, 5)
    assert available_from("wechat", DEC21, add_workdays=lambda d, n: 1 / 0) == DEC21


def test_a_pool_deduction_on_a_known_calendar(client, li_pool, lv, calendar_2027, today):
    # 2026-12-21 (Mon) + 10 working days: 22–25, 28–31 (8), 2027-01-01 元旦 off, 01-04 (9), 01-05 (10)
    from core.workdays import add_workdays

    assert add_workdays(DEC21, 10) == date(2027, 1, 5)
    today(date(2027, 1, 4))
    resp = page_of(client, lv, li_pool)
    assert resp.status_code == 200
    assert field(resp.content.decode(), "certificate-message") == (
        "家庭共济扣款日为 2026年12月21日，缴费证明自扣款后第 10 个工作日即 2027年1月5日 起可以开具")
    assert page_of(client, lv, li_pool, "pdf/").status_code == 409
    today(date(2027, 1, 5))
    html = page_of(client, lv, li_pool).content.decode()
    assert field(html, "cert-channel") == "家庭共济" and field(html, "cert-issued") == "2027-01-05"


def test_a_pool_deduction_without_next_years_calendar_is_a_clear_message(client, li_pool, lv, today):
    assert not WorkdayCalendarYear.objects.filter(year=2027).exists()
    today(date(2027, 1, 5))
    resp = page_of(client, lv, li_pool)
    assert resp.status_code == 200
    msg = field(resp.content.decode(), "certificate-message")
    assert "2027 年的节假日安排尚未录入" in msg and "工作日日历" in msg


# --- who sees what --------------------------------------------------------------------------------

def test_another_regions_caseworker_gets_404(client, zhang):
    ningbo = caseworker("nb", "330200")
    assert page_of(client, ningbo, zhang).status_code == 404
    assert page_of(client, ningbo, zhang, "pdf/").status_code == 404


def test_anonymous_is_sent_to_the_login(client, zhang):
    resp = client.get(f"/admin/payments/certificate/{zhang.pk}/")
    assert resp.status_code == 302 and resp["Location"].startswith("/admin/login/")


def test_an_unpaid_enrollment_has_no_certificate(client, lueliang_2027, lv):
    e = register(person("141102", "19800501", "001", name="张三"), 2027, date(2026, 12, 1))
    resp = page_of(client, lv, e)
    assert resp.status_code == 404
    assert field(resp.content.decode(), "certificate-message") == (
        "2027 年度参保登记已登记（待缴费），尚未缴费，不能开具缴费证明")
    assert page_of(client, lv, e, "pdf/").status_code == 404
    with pytest.raises(certificates.NotPaid):
        certificates.certificate_for(e, today=date(2026, 12, 1))


def test_a_cancelled_enrollments_certificate_is_void(client, zhang):
    from django.utils import timezone

    from enrollment.models import Enrollment

    payment = Payment.objects.get(enrollment=zhang, outcome="applied")
    code = certificate_code(zhang.pk, payment.pk)
    Enrollment.objects.filter(pk=zhang.pk).update(status="cancelled", cancelled_at=timezone.now(),
                                                  cancel_reason="测试：注销")
    assert verify(code).valid is False
    resp = client.get(f"/verify/{code}")
    assert resp.status_code == 410
    assert field(resp.content.decode(), "verify-result") == "该缴费证明已失效（缴费已退还或参保登记已注销）"


def test_a_partly_refunded_payment_certifies_what_stayed_paid(zhang, today):
    from decimal import Decimal

    from enrollment.tests.support import caseworker
    from payments import refunds
    from payments.certificates import certificate_for, verify
    from payments.models import Payment

    a, b = caseworker("cw_a", "141100"), caseworker("cw_b", "141100")
    r = refunds.refund_request(enrollment=zhang, reason="dynamic_adjustment", amount=Decimal("320.00"), actor=a)
    refunds.refund_decide(refund=r, approve=True, actor=b)
    refunds.refund_pay(refund=r, actor=b)
    cert = certificate_for(zhang, today=date(2026, 12, 22))
    assert cert.amount == Decimal("80.00")
    found = verify(cert.code)
    assert (found.amount, found.valid) == (Decimal("80.00"), True)
    assert Payment.objects.filter(refund_of__enrollment=zhang).count() == 1
