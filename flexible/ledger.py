"""The flexible-employment scheme on the payments ledger (issue 13): the handler that
``payments.schemes`` calls (registered in ``FlexibleConfig.ready()``).

A flexible payment is a ``payments.Payment`` row (``scheme`` ``flexible_employment``,
``scheme_enrollment_id`` the enrollment's id), written by ``payments.services.payment_record``
— the channel API, the admin's 登记缴费 and any other caller alike.  In the same transaction,
with the enrollment's row locked, ``mark_paid`` writes the enrollment's paid columns from the
rule's answer at the payment date and its ``payment`` link: a one-to-one foreign key, so the
database ties the two rows (and a second applied payment can never be linked).  The paid
columns are a cache of the ledger row; ``disagreements`` (run by ``payments.services.ledger_check``)
lists every enrollment or payment where they differ.

A paid enrollment cancelled with a refund (``flexible.services.flexible_cancel_paid``) keeps
its paid columns but not the link (only a paid enrollment holds one); its payment stays
applied on the ledger, still naming it, and the refund is a ledger record of its own
(``refund_of`` the payment).  The two agree when the cancelled enrollment's paid amount and
date are the payment's — as a cancelled resident enrollment keeps its applied payment.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from django.db import connection

from enrollment.models import Resident
from payments.models import Payment
from payments.schemes import SchemeDue, SchemeEnrollment
from payments.services import PaymentError
from policy.rules import QuoteError

from .models import FlexibleEnrollment, FlexibleStatus
from .services import _facts, _fill, _quote

CODE = "flexible_employment"


def quote_at(e: FlexibleEnrollment, paid_on: date):
    """The rule's answer for the enrollment paid on ``paid_on`` (QuoteError raised)."""
    return _quote(_facts(e), region=e.region_id, year=e.year, paid_on=paid_on)


def _as_scheme_enrollment(e: FlexibleEnrollment, name: str) -> SchemeEnrollment:
    return SchemeEnrollment(key=e.pk, resident_name=name, region_id=e.region_id, year=e.year,
                            paid=e.status == FlexibleStatus.PAID, amount_due=e.amount_due,
                            paid_amount=e.paid_amount, category=e.person_status, ref=e)


class FlexibleScheme:
    code = CODE
    label = "灵活就业人员医疗保险"

    def find(self, id_number: str, year: int, *, lock: bool):
        person = Resident.objects.filter(id_number=id_number).values_list("pk", "name").first()
        if person is None:
            return None
        qs = FlexibleEnrollment.objects.filter(resident_id=person[0], year=year).exclude(
            status=FlexibleStatus.CANCELLED)
        if lock:
            qs = qs.select_for_update()
        e = qs.first()
        return person[1], (None if e is None else _as_scheme_enrollment(e, person[1]))

    def price(self, enrollment: SchemeEnrollment, paid_on: date) -> SchemeDue:
        try:
            result = quote_at(enrollment.ref, paid_on)
        except QuoteError as exc:
            raise PaymentError(exc.code, exc.message) from None
        return SchemeDue(amount_due=result.amount_due, benefit_start=result.benefit_start,
                         certificate_from=result.certificate_from, detail=result)

    def mark_paid(self, enrollment: SchemeEnrollment, due: SchemeDue, *, payment_id: int, amount: Decimal,
                  paid_on: date, paid_at: datetime) -> None:
        e: FlexibleEnrollment = enrollment.ref  # locked FOR UPDATE by find(lock=True)
        result = due.detail
        _fill(e, result)
        e.status = FlexibleStatus.PAID
        e.payment_id = payment_id
        e.paid_amount = amount
        e.paid_on = paid_on
        e.timing = result.timing
        e.interruption_months = result.interruption_months
        e.makeup_basic = result.makeup_basic
        e.benefit_start = result.benefit_start
        e.benefit_end = result.benefit_end
        e.waiting_months = result.waiting_months
        e.certificate_from = result.certificate_from
        e.retired_from = result.retired_from
        e.save()

    def disagreements(self, limit: int) -> list[tuple]:
        with connection.cursor() as cur:
            cur.execute(_DISAGREE, {"scheme": CODE, "limit": limit})
            return [("flexible_employment", *row) for row in cur.fetchall()]

    def certificate_from(self, payment) -> date | None:
        """The tax-paid certificate (完税证明) from the scheme's days after the ledger
        payment's date (002 注意事项 4: "缴费5日后"), the rule's own function."""
        from policy.rules.flexible import certificate_from
        from policy.selectors import published_flexible_scheme

        try:
            scheme, _ = published_flexible_scheme(payment.region_id, payment.year)
        except QuoteError:
            return None
        if scheme.certificate_after_days is None:
            return None
        return certificate_from(payment.paid_on, scheme.certificate_after_days)


# Rows where the cache and the ledger differ: a paid enrollment without its payment, or with
# one of another amount, date, scheme or enrollment; an unpaid enrollment holding a payment;
# a cancelled enrollment that was paid (paid amount kept) without an applied payment of the
# scheme naming it at that amount and date; an applied payment of the scheme that no paid
# enrollment links to, unless the enrollment it names was paid by it and then cancelled (read
# through the partial index payment_other_scheme: the ledger's millions of resident rows are
# not scanned).
_DISAGREE = f"""
SELECT 'enrollment' AS side, f.id, f.status, f.paid_amount, p.amount
FROM {FlexibleEnrollment._meta.db_table} f
LEFT JOIN {Payment._meta.db_table} p ON p.id = f.payment_id
WHERE (f.status = 'paid' AND (p.id IS NULL OR p.outcome <> 'applied' OR p.scheme <> %(scheme)s
                              OR p.scheme_enrollment_id IS DISTINCT FROM f.id
                              OR p.amount IS DISTINCT FROM f.paid_amount OR p.paid_on IS DISTINCT FROM f.paid_on))
   OR (f.status <> 'paid' AND f.payment_id IS NOT NULL)
   OR (f.status = 'cancelled' AND f.paid_amount IS NOT NULL AND NOT EXISTS (
         SELECT 1 FROM {Payment._meta.db_table} q
         WHERE q.scheme = %(scheme)s AND q.scheme <> 'resident' AND q.scheme_enrollment_id = f.id
           AND q.outcome = 'applied' AND q.amount = f.paid_amount AND q.paid_on = f.paid_on))
UNION ALL
SELECT 'payment', p.scheme_enrollment_id, named.status, named.paid_amount, p.amount
FROM {Payment._meta.db_table} p
LEFT JOIN {FlexibleEnrollment._meta.db_table} f ON f.payment_id = p.id
LEFT JOIN {FlexibleEnrollment._meta.db_table} named ON named.id = p.scheme_enrollment_id
WHERE p.scheme = %(scheme)s AND p.scheme <> 'resident' AND p.outcome = 'applied' AND f.id IS NULL
  AND NOT COALESCE(named.status = 'cancelled' AND named.paid_amount = p.amount AND named.paid_on = p.paid_on,
                   false)
ORDER BY 2 LIMIT %(limit)s"""
