"""The quote as the outside world sees it: JSON in, JSON out (INTERFACES.md section 2).

Shared by ``manage.py quote``, ``POST /api/v1/quote`` and the admin's 缴费测算 page.
"""

from __future__ import annotations

import json

from .rules import QuoteError, quote
from .rules.io import parse_request, result_to_dict
from .selectors import published_spec


def quote_one(raw, *, explain: bool = False) -> dict:
    """One decoded request -> a result dict or an error dict (never raises QuoteError)."""
    try:
        req = parse_request(raw)
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
