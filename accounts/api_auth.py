"""Who may call the JSON API: ``Authorization: Bearer TOKEN`` with a scope, or a
logged-in staff session with its CSRF token.  ``endpoint`` is core's
``api_endpoint`` with this check; the apps' ``api.py`` modules decorate their views
with it."""

from __future__ import annotations

import functools

from django.http import HttpRequest
from django.middleware.csrf import CsrfViewMiddleware

from core.api import ApiError, api_endpoint

from .services import api_token_authenticate


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
    """An API view open to tokens of these scopes (and, with ``staff``, to staff sessions)."""
    return api_endpoint(methods, functools.partial(authenticate, scopes=scopes, staff=staff))
