"""Counting failed logins for the lockout (no money or status changes here)."""

from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.dispatch import receiver

from core.audit import audit_context

from .backends import clear_failures, record_failure


def _ip(request):
    if request is None:
        return None
    return request.META.get("REMOTE_ADDR")


@receiver(user_login_failed, dispatch_uid="accounts.login_failed")
def on_login_failed(sender, credentials, request=None, **kwargs):
    record_failure(credentials.get("username", ""), _ip(request))


@receiver(user_logged_in, dispatch_uid="accounts.logged_in")
def on_logged_in(sender, request, user, **kwargs):
    with audit_context(user, action="login_success"):  # told apart from a release
        clear_failures(user.get_username())
