"""The JSON API's plumbing (INTERFACES.md section 5) on plain Django views.

``api_endpoint`` checks the method, asks an authenticator whether the caller may
come in, calls the view and renders its answer or error in the contract's shape::

    {"error": {"code": "...", "message": "..."}}

Who may come in is not core's business: ``accounts.api_auth.endpoint`` is this
decorator with the token-or-staff-session authenticator.
"""

from __future__ import annotations

import functools
import json
from typing import Callable

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def error_response(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse({"error": {"code": code, "message": message}}, status=status,
                        json_dumps_params={"ensure_ascii": False})


def json_response(data, status: int = 200) -> JsonResponse:
    return JsonResponse(data, status=status, safe=False, json_dumps_params={"ensure_ascii": False})


def read_json(request: HttpRequest):
    try:
        return json.loads(request.body.decode("utf-8") or "null")
    except (UnicodeDecodeError, ValueError) as exc:
        raise ApiError(422, "invalid_input", f"无法解析的 JSON (malformed JSON): {exc}") from None


def api_endpoint(methods: tuple[str, ...], authenticate: Callable[[HttpRequest], None]):
    """Decorate a view(request, **kwargs) returning (data, status) or a response.
    ``authenticate(request)`` runs first and raises ApiError when the caller may not."""

    def wrap(view):
        @csrf_exempt
        @functools.wraps(view)
        def inner(request, *args, **kwargs):
            if request.method not in methods:
                resp = error_response(405, "method_not_allowed", f"不支持 {request.method} 方法")
                resp["Allow"] = ", ".join(methods)
                return resp
            try:
                authenticate(request)
                out = view(request, *args, **kwargs)
            except ApiError as exc:
                return error_response(exc.status, exc.code, exc.message)
            if isinstance(out, tuple):
                data, status = out
                return json_response(data, status)
            return out

        return inner

    return wrap
