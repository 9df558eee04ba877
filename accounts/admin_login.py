"""The admin's login form: after too many failed attempts it says the account is locked and
for how long (issue 12, item 10), instead of the generic wrong-password message — also when the
password given is the right one.  Locks count per username, known or not, so the message tells
nothing about which usernames exist."""

from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.core.exceptions import ValidationError

from .backends import is_locked


def lockout_message() -> str:
    minutes = getattr(settings, "LOGIN_LOCKOUT_MINUTES", 15)
    failures = getattr(settings, "LOGIN_MAX_FAILURES", 5)
    return (f"该账号连续 {failures} 次登录失败，已锁定 {minutes} 分钟：请 {minutes} 分钟后再试，"
            "或请系统管理员解除锁定。")


class LockoutAwareLoginForm(AdminAuthenticationForm):
    def clean(self):
        try:
            return super().clean()
        except ValidationError:
            username = self.cleaned_data.get("username")
            if username and is_locked(username):
                raise ValidationError(lockout_message(), code="locked") from None
            raise
