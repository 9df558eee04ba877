"""The payment certificate (缴费证明): one per person-year for a paid enrollment.

- ``available_from(channel, paid_on, add_workdays=...)`` — the rule for when a certificate may
  be issued: a family-pool deduction (家庭共济) 10 working days after the deduction, every other
  channel the payment date.  Pure; the working-day function is passed in (raises
  ``core.workdays.WorkdayUnknown`` for a year without a calendar).
- ``certificate_code(enrollment_id, payment_id)`` — the verification code: 20 characters in
  Crockford base32, grouped ``XXXX-XXXX-XXXX-XXXX-XXXX``.  The first 8 are the payment id
  enciphered with a keyed permutation (so the code reveals no database id and needs no stored
  column), the last 12 an HMAC tag over both ids (60 bits: not guessable).  Both keys derive
  from ``settings.SECRET_KEY`` (``SECRET_KEY_FALLBACKS`` are accepted when verifying).
- ``certificate_for(enrollment, today=...)`` — the certificate's content, or a
  ``CertificateError`` whose message a caseworker can read.
- ``verify(code)`` — the public check: a ``Verified`` value (masked), or None.
- ``scheme_certificate(payment, ...)`` — the certificate of another scheme's ledger payment
  (``payments.schemes``; flexible employment: the tax-paid certificate from the scheme's days
  after the payment, 002 注意事项 4 "缴费5日后", the handler's ``certificate_from``).  Its code
  is made over the scheme's enrollment id and the payment id, as a resident one's.
"""

from __future__ import annotations

import hashlib
import hmac
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.conf import settings
from django.utils.crypto import salted_hmac

POOL_CERTIFICATE_WORKDAYS = 10  # 家庭共济扣款后 10 个工作日可开具缴费证明
FAMILY_POOL = "family_pool"

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U
_READ_AS = {"O": "0", "I": "1", "L": "1"}
_ID_CHARS = 8  # 40 bits: payment ids below 2**40
_TAG_CHARS = 12  # 60 bits
CODE_LENGTH = _ID_CHARS + _TAG_CHARS
_ID_BITS = 5 * _ID_CHARS
_HALF = _ID_BITS // 2
_HALF_MASK = (1 << _HALF) - 1
_ROUNDS = 4


class CertificateError(Exception):
    """No certificate can be issued (yet); ``message`` is plain Chinese for the caseworker."""

    def __init__(self, message: str, *, available_from: date | None = None):
        self.message = message
        self.available_from = available_from
        super().__init__(message)


class NotPaid(CertificateError):
    """The enrollment is not paid, or the ledger holds no payment that paid it."""


class NotYetAvailable(CertificateError):
    """Paid, but the certificate is available only from ``available_from``."""


class CalendarMissing(CertificateError):
    """The date the certificate becomes available needs a working-day calendar not entered yet."""


# --- the rule -------------------------------------------------------------------------------

def available_from(channel: str, paid_on: date, *, add_workdays: Callable[[date, int], date]) -> date:
    """The first day the certificate may be issued (see the module's docstring)."""
    if channel == FAMILY_POOL:
        return add_workdays(paid_on, POOL_CERTIFICATE_WORKDAYS)
    return paid_on


# --- the code ---------------------------------------------------------------------------------

def _keys(secret: str) -> tuple[bytes, bytes]:
    perm = salted_hmac("payments.certificates.permutation", "key", secret=secret, algorithm="sha256").digest()
    tag = salted_hmac("payments.certificates.tag", "key", secret=secret, algorithm="sha256").digest()
    return perm, tag


def _secrets() -> list[str]:
    return [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]


def _round(key: bytes, i: int, half: int) -> int:
    digest = hmac.new(key, f"{i}:{half}".encode(), hashlib.sha256).digest()
    return int.from_bytes(digest[:4], "big") & _HALF_MASK


def _encipher(key: bytes, n: int) -> int:
    left, right = n >> _HALF, n & _HALF_MASK
    for i in range(_ROUNDS):
        left, right = right, left ^ _round(key, i, right)
    return (left << _HALF) | right


def _decipher(key: bytes, n: int) -> int:
    left, right = n >> _HALF, n & _HALF_MASK
    for i in reversed(range(_ROUNDS)):
        left, right = right ^ _round(key, i, left), left
    return (left << _HALF) | right


def _b32(n: int, chars: int) -> str:
    out = []
    for _ in range(chars):
        out.append(_ALPHABET[n & 31])
        n >>= 5
    return "".join(reversed(out))


def _from_b32(text: str) -> int:
    n = 0
    for ch in text:
        n = (n << 5) | _ALPHABET.index(ch)
    return n


def _tag(key: bytes, enrollment_id: int, payment_id: int) -> str:
    digest = hmac.new(key, f"certificate:{enrollment_id}:{payment_id}".encode(), hashlib.sha256).digest()
    return _b32(int.from_bytes(digest[:8], "big") >> 4, _TAG_CHARS)


def _raw_code(secret: str, enrollment_id: int, payment_id: int) -> str:
    if not 0 < payment_id < (1 << _ID_BITS):
        raise ValueError("payment id out of range for a certificate code")
    perm, tag = _keys(secret)
    return _b32(_encipher(perm, payment_id), _ID_CHARS) + _tag(tag, enrollment_id, payment_id)


def group(raw: str) -> str:
    return "-".join(raw[i:i + 4] for i in range(0, len(raw), 4))


def certificate_code(enrollment_id: int, payment_id: int) -> str:
    """The grouped verification code, e.g. ``7K2M-Q9XD-…``."""
    return group(_raw_code(settings.SECRET_KEY, enrollment_id, payment_id))


def normalise_code(text: str) -> str | None:
    """The 20 code characters of what a person typed (dashes, spaces, case, O/I/L forgiven),
    or None when it cannot be a code."""
    # full-width letters and digits (ＡＢ１２, typed with a Chinese input method) and a full-width
    # dash read as their ASCII selves
    s = unicodedata.normalize("NFKC", str(text or ""))
    s = "".join(s.split()).replace("-", "").replace("－", "").replace("—", "").upper()
    s = "".join(_READ_AS.get(ch, ch) for ch in s)
    if len(s) != CODE_LENGTH or any(ch not in _ALPHABET for ch in s):
        return None
    return s


def decode(text: str) -> list[tuple[int, str]]:
    """(payment id, the full raw code that id would have) for each accepted key; the caller
    loads the payment and compares the code for its enrollment in constant time."""
    raw = normalise_code(text)
    if raw is None:
        return []
    out = []
    for secret in _secrets():
        perm, _ = _keys(secret)
        out.append((_decipher(perm, _from_b32(raw[:_ID_CHARS])), secret))
    return out


def code_matches(text: str, enrollment_id: int, payment_id: int, secret: str) -> bool:
    raw = normalise_code(text) or ""
    return hmac.compare_digest(raw.encode(), _raw_code(secret, enrollment_id, payment_id).encode())


def chinese_date(d: date) -> str:
    return f"{d.year}年{d.month}月{d.day}日"


# --- masking ----------------------------------------------------------------------------------

def mask_name(name: str) -> str:
    """张三 → 张*, 欧阳娜娜 → 欧***."""
    name = (name or "").strip()
    if not name:
        return ""
    return name[0] + "*" * max(1, len(name) - 1)


def mask_id_public(number: str) -> str:
    """First 3 and last 4 only: 110***********002X."""
    if not number or len(number) < 8:
        return "*" * len(number or "")
    return number[:3] + "*" * (len(number) - 7) + number[-4:]


# --- the certificate ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Certificate:
    enrollment_id: int
    payment_id: int
    name: str
    masked_id: str
    region: str
    year: int
    category: str
    amount: Decimal
    paid_on: date
    channel: str
    benefit_start: date | None
    benefit_end: date | None
    issued_on: date
    available_from: date
    code: str


@dataclass(frozen=True)
class Verified:
    name: str  # masked
    masked_id: str  # first 3 + last 4
    region: str
    year: int
    amount: Decimal
    paid_on: date
    valid: bool  # False: the payment was refunded or the enrollment cancelled since


def _applied_payment(enrollment):
    from .models import Payment

    return (Payment.objects.filter(enrollment=enrollment, outcome=Payment.Outcome.APPLIED)
            .order_by("id").first())


def certificate_for(enrollment, *, today: date, add_workdays: Callable[[date, int], date] | None = None
                    ) -> Certificate:
    """The certificate of a paid enrollment on ``today``; raises a ``CertificateError``."""
    from core.workdays import WorkdayUnknown
    from enrollment.idnumbers import mask
    from enrollment.models import EnrollmentStatus

    if add_workdays is None:
        from core.workdays import add_workdays
    if enrollment.status == EnrollmentStatus.CANCELLED:
        raise NotPaid(f"{enrollment.year} 年度参保登记已注销，不能开具缴费证明")
    if enrollment.status != EnrollmentStatus.PAID:
        raise NotPaid(f"{enrollment.year} 年度参保登记{enrollment.get_status_display()}，"
                      "尚未缴费，不能开具缴费证明")
    payment = _applied_payment(enrollment)
    if payment is None:
        raise NotPaid(f"{enrollment.year} 年度没有到账的缴费记录（例如出生当年免缴的新生儿），不能开具缴费证明")
    try:
        start = available_from(payment.channel, payment.paid_on, add_workdays=add_workdays)
    except WorkdayUnknown as exc:
        raise CalendarMissing(
            f"家庭共济扣款日 {payment.paid_on:%Y-%m-%d} 之后第 {POOL_CERTIFICATE_WORKDAYS} 个工作日无法确定："
            f"{exc}。请先在“工作日日历”中录入 {exc.year} 年的节假日安排") from None
    if today < start:
        if payment.channel == FAMILY_POOL:
            message = (f"家庭共济扣款日为 {chinese_date(payment.paid_on)}，缴费证明自扣款后第 "
                       f"{POOL_CERTIFICATE_WORKDAYS} 个工作日即 {chinese_date(start)} 起可以开具")
        else:
            message = f"缴费日期为 {chinese_date(payment.paid_on)}，缴费证明自 {chinese_date(start)} 起可以开具"
        raise NotYetAvailable(message, available_from=start)
    resident = enrollment.resident
    return Certificate(
        enrollment_id=enrollment.pk, payment_id=payment.pk, name=resident.name,
        masked_id=mask(resident.id_number), region=enrollment.region.name, year=enrollment.year,
        category=enrollment.get_category_display(), amount=net_amount(payment), paid_on=payment.paid_on,
        channel=payment.get_channel_display(), benefit_start=enrollment.benefit_start,
        benefit_end=enrollment.benefit_end, issued_on=today, available_from=start,
        code=certificate_code(enrollment.pk, payment.pk))


def net_amount(payment) -> Decimal:
    """What stayed paid: the payment less every refund of it (a dynamic adjustment gives part
    of it back; the certificate shows what the person paid in the end)."""
    from django.db.models import Sum

    refunded = payment.refunds.aggregate(total=Sum("amount"))["total"] or Decimal("0")
    return payment.amount + refunded  # refunds are negative records


def verify(text: str) -> Verified | None:
    """The certificate a code names, masked for the public; None for an unknown code."""
    from enrollment.models import EnrollmentStatus

    from .models import Payment

    for payment_id, secret in decode(text):
        payment = (Payment.objects.select_related("enrollment", "enrollment__region", "region")
                   .filter(pk=payment_id, kind=Payment.Kind.PAYMENT).first())
        if payment is None:
            # compare anyway, so an unknown id costs the same as a wrong tag
            code_matches(text, 0, payment_id, secret)
            continue
        if not code_matches(text, _code_enrollment_id(payment), payment.pk, secret):
            continue
        e = payment.enrollment
        net = net_amount(payment)
        still_paid = e.status == EnrollmentStatus.PAID if e is not None else _scheme_still_paid(payment)
        valid = payment.outcome == Payment.Outcome.APPLIED and still_paid and (net > 0 or payment.amount == 0)
        return Verified(name=mask_name(payment.name), masked_id=mask_id_public(payment.id_number),
                        region=(e.region if e is not None else payment.region).name, year=payment.year,
                        amount=net, paid_on=payment.paid_on, valid=valid)
    return None


# --- another scheme's payment (payments.schemes) -----------------------------------------------

def _code_enrollment_id(payment) -> int:
    """The enrollment id a payment's code is made over: the resident enrollment's, or the
    scheme's own enrollment's for another scheme's payment."""
    return payment.enrollment_id if payment.enrollment_id is not None else (payment.scheme_enrollment_id or 0)


def _scheme_still_paid(payment) -> bool:
    """Another scheme's payment still pays its enrollment: the scheme's handler finds the
    person's enrollment of the year paid by this very row."""
    from .schemes import scheme_handler

    handler = scheme_handler(payment.scheme)
    if handler is None:
        return False
    found = handler.find(payment.id_number, payment.year, lock=False)
    return bool(found and found[1] is not None and found[1].paid and found[1].key == payment.scheme_enrollment_id)


def scheme_available_from(payment) -> date:
    """The first day another scheme's payment's certificate may be printed: the scheme's
    rule (flexible: paid_on + 5 days), the payment date when the scheme has none."""
    from .schemes import scheme_handler

    handler = scheme_handler(payment.scheme)
    start = handler.certificate_from(payment) if handler is not None else None
    return start or payment.paid_on


def scheme_certificate(payment, *, today: date, category: str, benefit_start: date | None,
                       benefit_end: date | None) -> Certificate:
    """The certificate of another scheme's applied ledger payment on ``today``; raises
    ``NotPaid`` or ``NotYetAvailable`` (with the date) as ``certificate_for`` does."""
    from enrollment.idnumbers import mask

    from .models import Payment

    if payment is None or payment.outcome != Payment.Outcome.APPLIED or payment.kind != Payment.Kind.PAYMENT:
        raise NotPaid("没有到账的缴费记录，不能开具缴费证明")
    start = scheme_available_from(payment)
    if today < start:
        raise NotYetAvailable(f"缴费日期为 {chinese_date(payment.paid_on)}，《社会保险费缴费证明》缴费 "
                              f"{(start - payment.paid_on).days} 日后即 {chinese_date(start)} 起可以打印",
                              available_from=start)
    return Certificate(
        enrollment_id=payment.scheme_enrollment_id, payment_id=payment.pk, name=payment.name,
        masked_id=mask(payment.id_number), region=payment.region.name, year=payment.year, category=category,
        amount=net_amount(payment), paid_on=payment.paid_on, channel=payment.get_channel_display(),
        benefit_start=benefit_start, benefit_end=benefit_end, issued_on=today, available_from=start,
        code=certificate_code(_code_enrollment_id(payment), payment.pk))
