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
import re
from typing import Callable

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
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


def max_body_bytes() -> int:
    return settings.API_MAX_BODY_BYTES


def _too_large() -> ApiError:
    cap = max_body_bytes()
    size = f"{cap // (1024 * 1024)} MB" if cap % (1024 * 1024) == 0 else f"{cap} 字节"
    return ApiError(413, "payload_too_large", f"请求内容过大，每次请求不得超过 {size} (request body too large)")


def check_body_size(request: HttpRequest) -> None:
    """Refuse a body over API_MAX_BODY_BYTES by its Content-Length, before anything reads it."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise ApiError(400, "invalid_input", "Content-Length 无效") from None
    if length > max_body_bytes():
        raise _too_large()


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def read_json(request: HttpRequest):
    """The body as JSON; 413 over the cap, 422 invalid_input when unreadable or nested too
    deeply for the parser (``[`` × 1000 raised RecursionError, a 500)."""
    check_body_size(request)
    try:
        raw = request.body
    except RequestDataTooBig:
        raise _too_large() from None
    if len(raw) > max_body_bytes():
        raise _too_large()
    try:
        text = raw.decode("utf-8")
        value = json.loads(text or "null")
    except (UnicodeDecodeError, ValueError) as exc:
        raise ApiError(422, "invalid_input", f"无法解析的 JSON (malformed JSON): {exc}") from None
    except RecursionError:
        raise ApiError(422, "invalid_input", "JSON 嵌套层数过多 (JSON nested too deeply)") from None
    # UTF-8 cannot carry a lone surrogate, but a JSON escape (\ud800) can: such a string can be
    # neither stored nor hashed (UnicodeEncodeError, a 500), so it is refused here, once for all.
    if _SURROGATE_ESCAPE.search(text):
        try:
            json.dumps(value, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise ApiError(422, "invalid_input",
                           "JSON 含有不成对的 Unicode 代理项 (lone surrogate \\uD800–\\uDFFF)") from None
    return value


def api_endpoint(methods: tuple[str, ...], authenticate: Callable[[HttpRequest], None]):
    """Decorate a view(request, **kwargs) returning (data, status) or a response.
    ``authenticate(request)`` runs first and raises ApiError when the caller may not."""

    def wrap(view):
        @csrf_exempt
        @functools.wraps(view)
        def inner(request, *args, **kwargs):
            allowed = methods + (("HEAD",) if "GET" in methods and "HEAD" not in methods else ())
            if request.method not in allowed:
                resp = error_response(405, "method_not_allowed", f"不支持 {request.method} 方法")
                resp["Allow"] = ", ".join(allowed)
                return resp
            head = request.method == "HEAD"
            if head:
                request.method = "GET"  # HEAD is GET without the body (RFC 9110 §9.3.2)
            try:
                check_body_size(request)
                authenticate(request)
                out = view(request, *args, **kwargs)
            except ApiError as exc:
                out = error_response(exc.status, exc.code, exc.message)
            else:
                if isinstance(out, tuple):
                    data, status = out
                    out = json_response(data, status)
            if head:
                request.method = "HEAD"
                if not out.streaming:
                    out["Content-Length"] = str(len(out.content))
                    out.content = b""
            return out

        return inner

    return wrap
