"""Pure rule functions for resident medical insurance (no ORM, no clock).

Everything the policy documents decide - category, amounts, assistance,
payment periods, waiting, continuity and the critical-illness cap - is
computed here over plain values: dates, Decimal and the frozen dataclasses of
:mod:`policy.rules.types`.  The policy itself arrives as a ``PolicySpec``
built from the database (or straight from a data file in tests and benches).
"""

from .errors import QuoteError
from .quote import quote
from .types import (
    AssistanceTierSpec,
    CategorySpec,
    Identity,
    PeriodSpec,
    Person,
    PolicySpec,
    QuoteRequest,
    QuoteResult,
    SpecialGroupSpec,
)

__all__ = [
    "AssistanceTierSpec",
    "CategorySpec",
    "Identity",
    "PeriodSpec",
    "Person",
    "PolicySpec",
    "QuoteError",
    "QuoteRequest",
    "QuoteResult",
    "SpecialGroupSpec",
    "quote",
]
