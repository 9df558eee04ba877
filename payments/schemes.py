"""Payment schemes beside the resident scheme (issue 13): a registry of handlers.

The ledger takes money for more than the resident scheme — Xianyang's flexible-employment
medical insurance (灵活就业人员医疗保险) is paid through the same tax channels.  A payment
of such a scheme is one immutable ``Payment`` row like every other (``scheme`` names it,
``scheme_enrollment_id`` the scheme's enrollment), recorded by the one ``payment_record``
with the same idempotency, channel rules and refusals; the scheme's enrollment keeps its
paid columns as a cache of that row, written in the same transaction.

Why a registry and not an import: ``payments`` sits below ``flexible`` (ARCHITECTURE.md
floors), so it may not import it; yet the service, the channel API, the ledger check and
the certificate must find, price and mark paid a flexible enrollment.  The scheme's app
registers a handler here from its ``AppConfig.ready()`` — as it registers enrollment's
"other scheme" check — and ``payments`` speaks to it only through the small interface
below (plain values in and out).  The link between the two rows is the scheme's to hold
(flexible: a one-to-one foreign key to the payment, so a database constraint ties them),
and ``ledger_check`` asks every handler for rows that disagree.

A handler raises ``payments.services.PaymentError`` with a code of the channel contract
(INTERFACES.md §5) for every refusal.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Protocol

RESIDENT = "resident"


@dataclass(frozen=True, slots=True)
class SchemeEnrollment:
    """A person's enrollment in a scheme for a year, as the ledger needs it."""

    key: int  # the scheme's own enrollment id (Payment.scheme_enrollment_id)
    resident_name: str
    region_id: str
    year: int
    paid: bool
    amount_due: Decimal
    paid_amount: Decimal | None
    category: str  # what the dues answer calls the person (flexible: in_service / retired)
    ref: object = None  # the scheme's own row, opaque to payments (handed back to the handler)


@dataclass(frozen=True, slots=True)
class SchemeDue:
    """The scheme's price of the enrollment at a payment date, and what follows from paying then."""

    amount_due: Decimal
    benefit_start: date | None
    certificate_from: date | None = None
    detail: object = None  # the scheme's own answer, opaque to payments (handed back to mark_paid)


class SchemeHandler(Protocol):
    code: str  # "flexible_employment"
    label: str  # "灵活就业人员医疗保险"

    def find(self, id_number: str, year: int, *, lock: bool) -> tuple[str, SchemeEnrollment | None] | None:
        """(the person's name, their live enrollment of the year or None), or None when the
        person is not known at all; ``lock``: the enrollment row locked FOR UPDATE."""

    def price(self, enrollment: SchemeEnrollment, paid_on: date) -> SchemeDue:
        """What is due when paid on ``paid_on`` (the scheme's rule at that date)."""

    def mark_paid(self, enrollment: SchemeEnrollment, due: SchemeDue, *, payment_id: int, amount: Decimal,
                  paid_on: date, paid_at: datetime) -> None:
        """Write the enrollment's paid columns (the cache) and its link to the ledger row."""

    def disagreements(self, limit: int) -> list[tuple]:
        """Enrollments whose paid columns disagree with the ledger (empty when all agree)."""

    def certificate_from(self, payment) -> date | None:
        """The first day the payment's certificate may be printed (None: no such rule)."""


_HANDLERS: dict[str, SchemeHandler] = {}


def register_scheme(handler: SchemeHandler) -> None:
    """Called from the scheme app's ``AppConfig.ready()``; registering again replaces."""
    if handler.code == RESIDENT:
        raise ValueError("the resident scheme is the ledger's own")
    _HANDLERS[handler.code] = handler


def scheme_handler(code: str) -> SchemeHandler | None:
    return _HANDLERS.get(code)


def scheme_codes() -> tuple[str, ...]:
    """Every scheme a payment may name: resident first, then the registered ones."""
    return (RESIDENT, *sorted(_HANDLERS))


def handlers() -> list[SchemeHandler]:
    return [_HANDLERS[c] for c in sorted(_HANDLERS)]
