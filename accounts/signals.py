"""Counting failed logins for the lockout (no money or status changes here)."""

from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver

from core.audit import audit_context

from .backends import clear_failures

# A failed attempt is counted by accounts.backends.LockoutBackend itself, inside the
# per-username lock that makes check and count atomic (issue 8 item 2).


@receiver(user_logged_in, dispatch_uid="accounts.logged_in")
def on_logged_in(sender, request, user, **kwargs):
    with audit_context(user, action="login_success"):  # told apart from a release
        clear_failures(user.get_username())
