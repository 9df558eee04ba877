"""Login lockout: after LOGIN_MAX_FAILURES failed attempts for a username within
LOGIN_LOCKOUT_MINUTES, further attempts are refused (even with the right
password) until the window has passed."""

from datetime import timedelta

from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import PermissionDenied
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


class LockoutBackend(ModelBackend):
    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is None:
            username = kwargs.get(self._username_field())
        if is_locked(username):
            # PermissionDenied stops Django trying other backends; the login form
            # then shows its generic error and the attempt is still counted.
            raise PermissionDenied("locked")
        return super().authenticate(request, username=username, password=password, **kwargs)

    @staticmethod
    def _username_field():
        from django.contrib.auth import get_user_model

        return get_user_model().USERNAME_FIELD
