"""The audit context of a web request: who (id and username) and where."""

from pghistory.middleware import HistoryMiddleware


class AuditMiddleware(HistoryMiddleware):
    """pghistory's middleware plus the username, so the trail reads without a join."""

    def get_context(self, request):
        ctx = super().get_context(request)
        user = getattr(request, "user", None)
        if user is not None and getattr(user, "is_authenticated", False):
            ctx["username"] = user.get_username()
        return ctx


class ContentSecurityPolicyMiddleware:
    """Adds settings.CONTENT_SECURITY_POLICY to every answer that does not set its own.
    The Django admin (5.2) loads its scripts from files, so ``script-src`` needs no
    'unsafe-inline'; tests/robustness/test_headers.py checks the admin pages stay so."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        from django.conf import settings

        response = self.get_response(request)
        policy = getattr(settings, "CONTENT_SECURITY_POLICY", "")
        if policy and "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = policy
        return response
