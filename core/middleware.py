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
