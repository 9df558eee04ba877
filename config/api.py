"""A thin JSON API layer (INTERFACES.md section 5) on plain Django views.

``endpoint`` authenticates (``Authorization: Bearer TOKEN`` with a scope, or a
logged-in staff session with its CSRF token), decodes the JSON body, calls the
view and renders its answer or error in the contract's shape::

    {"error": {"code": "...", "message": "..."}}
"""

from __future__ import annotations

import functools
import json
import logging

from django.http import HttpRequest, JsonResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.views.decorators.csrf import csrf_exempt

from accounts.services import api_token_authenticate

log = logging.getLogger(__name__)


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


def _csrf_failure(request) -> str | None:
    check = CsrfViewMiddleware(lambda r: None)
    check.process_request(request)
    reason = check.process_view(request, None, (), {})
    return None if reason is None else "CSRF 校验失败"


def authenticate(request: HttpRequest, scopes: tuple[str, ...], staff: bool):
    """Set request.api_token / request.user; raise ApiError when not allowed."""
    header = request.headers.get("Authorization", "")
    if header:
        kind, _, raw = header.partition(" ")
        if kind.lower() != "bearer" or not raw.strip():
            raise ApiError(401, "unauthorized", "Authorization 应为 Bearer 令牌")
        token = api_token_authenticate(raw.strip())
        if token is None:
            raise ApiError(401, "unauthorized", "令牌无效或已吊销")
        if token.scope not in scopes:
            raise ApiError(403, "forbidden", f"令牌范围“{token.scope}”不能调用此接口")
        request.api_token = token
        return
    user = getattr(request, "user", None)
    if staff and user is not None and user.is_authenticated and user.is_active and user.is_staff:
        if request.method not in ("GET", "HEAD", "OPTIONS") and _csrf_failure(request):
            raise ApiError(403, "forbidden", "CSRF 校验失败")
        request.api_token = None
        return
    raise ApiError(401, "unauthorized", "需要接口令牌（Authorization: Bearer …）或经办人员登录")


def endpoint(methods: tuple[str, ...], scopes: tuple[str, ...], staff: bool = True):
    """Decorate a view(request, **kwargs) returning (data, status) or a response."""

    def wrap(view):
        @csrf_exempt
        @functools.wraps(view)
        def inner(request, *args, **kwargs):
            if request.method not in methods:
                resp = error_response(405, "method_not_allowed", f"不支持 {request.method} 方法")
                resp["Allow"] = ", ".join(methods)
                return resp
            try:
                authenticate(request, scopes, staff)
                out = view(request, *args, **kwargs)
            except ApiError as exc:
                return error_response(exc.status, exc.code, exc.message)
            if isinstance(out, tuple):
                data, status = out
                return json_response(data, status)
            return out

        return inner

    return wrap


def openapi_view(request):
    from .openapi import schema

    return json_response(schema())
