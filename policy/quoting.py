"""The quote as the outside world sees it: JSON in, JSON out (INTERFACES.md section 2).

Shared by ``manage.py quote``, ``POST /api/v1/quote`` and the admin's 缴费测算 page.
"""

from __future__ import annotations

import json

from .rules import QuoteError, quote
from .rules.flexible import flexible_quote
from .rules.io import (
    flexible_result_to_dict,
    parse_flexible_request,
    parse_request,
    request_scheme,
    result_to_dict,
)
from .selectors import published_flexible_scheme, published_spec


def quote_flexible(raw, *, explain: bool = False) -> dict:
    """A flexible-employment request -> its answer (QuoteError raised)."""
    req = parse_flexible_request(raw)
    scheme, region_name = published_flexible_scheme(req.region, req.year)
    return flexible_result_to_dict(flexible_quote(scheme, req, region_name=region_name, explain=explain),
                                   with_steps=explain)


def quote_one(raw, *, explain: bool = False, cap: bool = False) -> dict:
    """One decoded request -> a result dict or an error dict (never raises QuoteError)."""
    try:
        if request_scheme(raw) == "flexible_employment":
            return quote_flexible(raw, explain=explain)
        req = parse_request(raw)
        spec = published_spec(req.region, req.year)
        return result_to_dict(quote(spec, req, explain=explain), with_steps=explain, with_cap=cap)
    except QuoteError as exc:
        return exc.as_dict()


def quote_payload(payload, *, explain: bool = False, cap: bool = False):
    """A decoded payload (object or array) -> (answer, all_ok)."""
    if isinstance(payload, list):
        answers = [quote_one(item, explain=explain, cap=cap) for item in payload]
        return answers, all("error" not in a for a in answers)
    answer = quote_one(payload, explain=explain, cap=cap)
    return answer, "error" not in answer


def decode(text: str):
    """JSON text -> payload; QuoteError(invalid_input) when unreadable."""
    try:
        return json.loads(text)
    except (ValueError, TypeError) as exc:
        raise QuoteError("invalid_input", f"无法解析的 JSON (malformed JSON): {exc}") from None
