"""Login lockout: after LOGIN_MAX_FAILURES failed attempts for a username within
LOGIN_LOCKOUT_MINUTES, further attempts are refused (even with the right
password) until the window has passed.

Attempts for one username are serialised: the lock check, the password check and
the count happen in one transaction holding a PostgreSQL advisory lock keyed on the
lower-cased username, so concurrent guesses cannot all be checked before the count
catches up. Every attempt that is not a success is recorded here (a refused one
too), inside that lock; the user_login_failed signal no longer counts."""

from datetime import timedelta

from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import PermissionDenied
from django.db import connection, transaction
from django.utils import timezone

from .models import LoginFailure


def _limits():
    return (getattr(settings, "LOGIN_MAX_FAILURES", 5),
            timedelta(minutes=getattr(settings, "LOGIN_LOCKOUT_MINUTES", 15)))


def is_locked(username: str) -> bool:
    if not username:
        return False
    max_failures, window = _limits()
    since = timezone.now() - window
    return LoginFailure.objects.filter(username__iexact=username, at__gte=since).count() >= max_failures


def record_failure(username: str, ip: str | None) -> None:
    if username:
        LoginFailure.objects.create(username=username[:150], ip=ip)


def clear_failures(username: str) -> None:
    LoginFailure.objects.filter(username__iexact=username).delete()


def _serialise_attempts(username: str) -> None:
    """Wait for any other attempt on this username (released at the end of the transaction)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"login:{username.lower()}"])


def _ip(request):
    return request.META.get("REMOTE_ADDR") if request is not None else None


class LockoutBackend(ModelBackend):
    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is None:
            username = kwargs.get(self._username_field())
        if not username:
            return super().authenticate(request, username=username, password=password, **kwargs)
        with transaction.atomic():
            _serialise_attempts(username)
            locked = is_locked(username)
            user = None
            if not locked:
                user = super().authenticate(request, username=username, password=password, **kwargs)
            if user is None:
                record_failure(username, _ip(request))
            # a success clears the count on user_logged_in (accounts.signals, audited as a login)
        if locked:
            # PermissionDenied stops Django trying other backends; the login form
            # then shows its generic error (the attempt is counted above).
            raise PermissionDenied("locked")
        return user

    @staticmethod
    def _username_field():
        from django.contrib.auth import get_user_model

        return get_user_model().USERNAME_FIELD
