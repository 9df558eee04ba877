"""Writes for accounts: API tokens, the release of a login lock."""

import secrets

from functools import reduce
from operator import or_

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from core.audit import audit_context
from core.audit_actor import acting_user

from .models import ApiToken, LoginFailure, TokenScope, hash_token


class TokenError(ValueError):
    pass


def api_token_create(*, name: str, scope: str, actor=None) -> tuple[ApiToken, str]:
    """Create a token; returns the row and the token text (shown only now)."""
    name = (name or "").strip()
    if not name:
        raise TokenError("令牌名称不能为空")
    if scope not in TokenScope.values:
        raise TokenError(f"未知的范围 {scope!r}，应为 {'、'.join(TokenScope.values)}")
    if ApiToken.objects.filter(name=name, revoked_at__isnull=True).exists():
        raise TokenError(f"已存在名为“{name}”的有效令牌")
    raw = secrets.token_urlsafe(32)
    with transaction.atomic(), audit_context(actor, action="api_token_create"):
        token = ApiToken.objects.create(name=name, scope=scope, token_hash=hash_token(raw),
                                        prefix=raw[:8],
                                        created_by=acting_user(actor))
    return token, raw


def api_token_revoke(*, token: ApiToken, actor=None) -> None:
    with transaction.atomic(), audit_context(actor, action="api_token_revoke"):
        ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())


def api_token_authenticate(raw: str) -> ApiToken | None:
    if not raw:
        return None
    token = ApiToken.objects.filter(token_hash=hash_token(raw), revoked_at__isnull=True).first()
    if token is not None:
        now = timezone.now()
        if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token


def login_lock_release(*, usernames, actor) -> int:
    """Delete the failed logins of these usernames (whatever their case), so they may log in
    at once.  The deleted rows land in the audit trail with who released them."""
    names = sorted({n.strip() for n in usernames if n and n.strip()}, key=str.lower)
    if not names:
        return 0
    match = reduce(or_, (Q(username__iexact=n) for n in names))
    with transaction.atomic(), audit_context(actor, action="login_lock_release", released="、".join(names)):
        deleted, _ = LoginFailure.objects.filter(match).delete()
    return deleted
