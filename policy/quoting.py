"""The quote as the outside world sees it: JSON in, JSON out (INTERFACES.md section 2).

Shared by ``manage.py quote``, ``POST /api/v1/quote`` and the admin's 缴费测算 page.
"""

from __future__ import annotations

import json
from datetime import date

from .rules import QuoteError, quote
from .rules.io import parse_request, result_to_dict
from .selectors import published_spec

# The rules add months and years to the request's dates; a date near 9999-12-31 would
# overflow there (ValueError, an HTTP 500).  Years are already limited to 1900-2200.
EARLIEST, LATEST = date(1900, 1, 1), date(2200, 12, 31)


def _check_date_range(req) -> None:
    named = [("paid_on", req.paid_on), ("person.birth_date", req.person.birth_date),
             ("left_other_scheme_on", req.left_other_scheme_on)]
    named += [(f"identities[{i}].certified_on", ident.certified_on)
              for i, ident in enumerate(req.identities)]
    for field, value in named:
        if value is not None and not EARLIEST <= value <= LATEST:
            raise QuoteError("invalid_input",
                             f"{field}: 日期应在 {EARLIEST.isoformat()} 至 {LATEST.isoformat()} 之间 "
                             f"(date out of range), 收到 {value.isoformat()!r}")


def quote_one(raw, *, explain: bool = False) -> dict:
    """One decoded request -> a result dict or an error dict (never raises QuoteError)."""
    try:
        req = parse_request(raw)
        _check_date_range(req)
        spec = published_spec(req.region, req.year)
        return result_to_dict(quote(spec, req, explain=explain), with_steps=explain)
    except QuoteError as exc:
        return exc.as_dict()


def quote_payload(payload, *, explain: bool = False):
    """A decoded payload (object or array) -> (answer, all_ok)."""
    if isinstance(payload, list):
        answers = [quote_one(item, explain=explain) for item in payload]
        return answers, all("error" not in a for a in answers)
    answer = quote_one(payload, explain=explain)
    return answer, "error" not in answer


def decode(text: str):
    """JSON text -> payload; QuoteError(invalid_input) when unreadable."""
    try:
        return json.loads(text)
    except (ValueError, TypeError) as exc:
        raise QuoteError("invalid_input", f"无法解析的 JSON (malformed JSON): {exc}") from None
