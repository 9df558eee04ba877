"""Writes for accounts: API tokens, the release of a login lock."""

import secrets
import time

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
    """Revoke a token: refused at once by this process, by every other one within
    TOKEN_CACHE_SECONDS (``api_token_authenticate``)."""
    with transaction.atomic(), audit_context(actor, action="api_token_revoke"):
        ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
        _forget(token.token_hash)  # now, and again once committed (another thread may have
        transaction.on_commit(lambda: _forget(token.token_hash))  # read it in between)


# Token hash -> (when read, the token), per process.  A channel calls the API hundreds of
# times a second with the same token, and reading it each time was a tenth of a dues query's
# CPU (bench/RESULTS.md, channel API).  The price: a token revoked in another process (the
# admin's, a command's) is still accepted here for at most TOKEN_CACHE_SECONDS.  Only
# tokens found are kept (unknown ones would let a caller fill the memory).
TOKEN_CACHE_SECONDS = 5.0
_tokens: dict[str, tuple[float, ApiToken]] = {}


def _forget(token_hash: str) -> None:
    _tokens.pop(token_hash, None)


def api_token_authenticate(raw: str) -> ApiToken | None:
    """The live token of this text, or None.  Read from the database at most every
    TOKEN_CACHE_SECONDS per process (so a revocation elsewhere takes effect within that
    time); ``last_used_at`` is written when read and more than a minute old."""
    if not raw:
        return None
    digest = hash_token(raw)
    now = time.monotonic()
    hit = _tokens.get(digest)
    if hit is not None and now - hit[0] < TOKEN_CACHE_SECONDS:
        return hit[1]
    token = ApiToken.objects.filter(token_hash=digest, revoked_at__isnull=True).first()
    if token is None:
        _forget(digest)
        return None
    moment = timezone.now()
    if token.last_used_at is None or (moment - token.last_used_at).total_seconds() > 60:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=moment)
    _tokens[digest] = (now, token)
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
