"""The audit context of a web request: who (id and username) and where."""

from django.core.handlers.base import BaseHandler
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


class ApiTokenPathMiddleware:
    """First in ``MIDDLEWARE``: a request under ``API_PATH_PREFIX`` that carries an
    ``Authorization`` header goes through ``API_MIDDLEWARE`` alone, not the rest of the stack.

    Such a request is answered by its token (accounts.api_auth: with the header present the
    session is never asked), so the session, locale, CSRF, authentication and message
    middleware have nothing to do for it — and cost a fifth of a dues query's CPU
    (bench/RESULTS.md, channel API).  ``API_MIDDLEWARE`` keeps what every answer needs: the
    security headers and HTTPS redirect, the host check, the frame and content policies and
    the audit context.  ``request.user`` is the anonymous user (a bearer request acts as its
    token, never as a session that came with it), the language the site's own, and the answer
    says ``Content-Language`` as the full stack's did.  A request without the header (a staff
    session calling the API, with its CSRF token) takes the full stack, as does everything
    outside the API."""

    def __init__(self, get_response):
        from django.conf import settings

        self.get_response = get_response
        self.prefix = settings.API_PATH_PREFIX
        self.language = settings.LANGUAGE_CODE
        self.api = _ApiHandler()
        self.api.load_middleware()

    def __call__(self, request):
        if "HTTP_AUTHORIZATION" in request.META and request.path_info.startswith(self.prefix):
            from django.contrib.auth.models import AnonymousUser
            from django.utils import translation

            request.user = AnonymousUser()
            translation.activate(self.language)
            response = self.api.chain(request)
            response.headers.setdefault("Content-Language", self.language)
            return response
        return self.get_response(request)


class _ApiHandler(BaseHandler):
    """Django's own request handling (URL resolution, view middleware, the view, the answer
    checks, exceptions to 500 answers) under the middleware of ``API_MIDDLEWARE``, built as
    ``BaseHandler.load_middleware`` builds ``MIDDLEWARE`` (synchronous only: WSGI)."""

    def load_middleware(self, is_async=False):
        from django.conf import settings
        from django.core.exceptions import ImproperlyConfigured, MiddlewareNotUsed
        from django.core.handlers.exception import convert_exception_to_response
        from django.utils.module_loading import import_string

        self._view_middleware, self._template_response_middleware, self._exception_middleware = [], [], []
        handler = convert_exception_to_response(self._get_response)
        for path in reversed(settings.API_MIDDLEWARE):
            middleware = import_string(path)
            if not getattr(middleware, "sync_capable", True):
                raise ImproperlyConfigured(f"API_MIDDLEWARE: {path} cannot run synchronously")
            try:
                mw = middleware(handler)
            except MiddlewareNotUsed:
                continue
            if mw is None:
                raise ImproperlyConfigured(f"Middleware factory {path} returned None.")
            if hasattr(mw, "process_view"):
                self._view_middleware.insert(0, mw.process_view)
            if hasattr(mw, "process_template_response"):
                self._template_response_middleware.append(mw.process_template_response)
            if hasattr(mw, "process_exception"):
                self._exception_middleware.append(mw.process_exception)
            handler = convert_exception_to_response(mw)
        self.chain = self._middleware_chain = handler
