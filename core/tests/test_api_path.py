"""The API's token path (core.middleware.ApiTokenPathMiddleware): a request under /api/ with
an Authorization header goes through API_MIDDLEWARE alone — and still gets every security
header, the host check, the HTTPS redirect and the audit context; everything else (the
admin, a staff session calling the API) keeps sessions and CSRF."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.middleware import AuthenticationMiddleware
from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.sessions.middleware import SessionMiddleware
from django.middleware.csrf import CsrfViewMiddleware
from django.middleware.locale import LocaleMiddleware
from django.test import Client, override_settings

SKIPPED = (SessionMiddleware, LocaleMiddleware, CsrfViewMiddleware, AuthenticationMiddleware, MessageMiddleware)
SECURITY_HEADERS = {
    "Content-Security-Policy": settings.CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Content-Language": "zh-hans",
}


def test_every_middleware_is_on_the_api_path_or_named_as_skipped_in_the_same_order():
    """A middleware added to MIDDLEWARE later must be put on the API path or named as
    skipped, never left out by accident."""
    assert settings.MIDDLEWARE[0] == "core.middleware.ApiTokenPathMiddleware"
    rest = settings.MIDDLEWARE[1:]
    assert sorted(rest) == sorted(settings.API_MIDDLEWARE + settings.API_SKIPPED_MIDDLEWARE)
    assert [m for m in rest if m in settings.API_MIDDLEWARE] == settings.API_MIDDLEWARE
    assert settings.API_SKIPPED_MIDDLEWARE == [
        "django.contrib.sessions.middleware.SessionMiddleware", "django.middleware.locale.LocaleMiddleware",
        "django.middleware.csrf.CsrfViewMiddleware", "django.contrib.auth.middleware.AuthenticationMiddleware",
        "django.contrib.messages.middleware.MessageMiddleware"]


@pytest.fixture
def skipped_middleware_explodes(monkeypatch):
    """The five middleware a token request skips raise when they run."""
    def boom(self, request, *args):
        raise AssertionError(f"{type(self).__name__} ran")

    for cls in SKIPPED:
        monkeypatch.setattr(cls, "process_request", boom, raising=False)


def test_a_token_request_skips_sessions_locale_csrf_auth_and_messages(client, channel_token,
                                                                     skipped_middleware_explodes):
    resp = client.get("/api/v1/nowhere", HTTP_AUTHORIZATION=f"Bearer {channel_token}")
    assert resp.status_code == 404
    assert resp.json()["error"]["code"] == "not_found"
    # the same request without the header takes the full stack
    with pytest.raises(AssertionError, match=" ran"):
        client.get("/api/v1/nowhere")
    with pytest.raises(AssertionError, match=" ran"):
        client.get("/admin/login/", HTTP_AUTHORIZATION=f"Bearer {channel_token}")  # not the API


@pytest.mark.parametrize("auth", ["good", "unknown", "basic"])
def test_a_token_answer_carries_every_security_header_and_no_cookie(client, channel_token, auth):
    header = {"good": f"Bearer {channel_token}", "unknown": "Bearer nope", "basic": "Basic dXNlcjpwdw=="}[auth]
    resp = client.get("/api/v1/dues", HTTP_AUTHORIZATION=header)
    assert (resp.status_code, resp.json()["error"]["code"]) == {
        "good": (422, "invalid_input"), "unknown": (401, "unauthorized"), "basic": (401, "unauthorized")}[auth]
    assert {k: resp.get(k) for k in SECURITY_HEADERS} == SECURITY_HEADERS
    assert resp.get("Content-Length") == str(len(resp.content))
    assert "Cookie" not in resp.get("Vary", "")
    assert not resp.cookies


def test_a_token_request_acts_as_its_token_never_as_the_session_it_came_with(client, db, channel_token):
    """A logged-in superuser's cookie sent with a bad token: refused (401), not let in as the user."""
    admin = get_user_model().objects.create_superuser("path-admin", "p@example.org", "pw-123456!")
    client.force_login(admin)
    url = "/api/v1/enrollments/123/2026"  # a staff-scope endpoint: a staff session may call it
    resp = client.get(url, HTTP_AUTHORIZATION="Bearer not-a-token")
    assert (resp.status_code, resp.json()["error"]["code"]) == (401, "unauthorized")
    resp = client.get(url)  # the session alone: the full stack, let in, the ID number refused
    assert (resp.status_code, resp.json()["error"]["code"]) == (422, "invalid_input")


def test_the_host_check_and_the_https_redirect_apply_to_token_requests(db, channel_token):
    header = {"HTTP_AUTHORIZATION": f"Bearer {channel_token}"}
    assert Client().get("/api/v1/nowhere", HTTP_HOST="evil.example", **header).status_code == 400
    with override_settings(SECURE_SSL_REDIRECT=True, SECURE_HSTS_SECONDS=3600):
        client = Client()  # the middleware reads these settings when the handler is built
        resp = client.get("/api/v1/nowhere?x=1", **header)
        assert (resp.status_code, resp["Location"]) == (301, "https://testserver/api/v1/nowhere?x=1")
        resp = client.get("/api/v1/nowhere", secure=True, **header)
        assert resp.status_code == 404
        assert resp["Strict-Transport-Security"] == "max-age=3600"


def test_a_staff_session_calling_the_api_still_needs_its_csrf_token(db):
    staff = get_user_model().objects.create_superuser("csrf-admin", "c@example.org", "pw-123456!")
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff)
    resp = client.post("/api/v1/enrollments", "{}", content_type="application/json")
    assert (resp.status_code, resp.json()["error"]["code"]) == (403, "forbidden")
    assert "CSRF" in resp.json()["error"]["message"]


def test_the_admin_keeps_sessions_and_csrf(db):
    get_user_model().objects.create_superuser("login-admin", "l@example.org", "pw-123456!")
    client = Client(enforce_csrf_checks=True)
    assert client.post("/admin/login/", {"username": "login-admin", "password": "pw-123456!"}).status_code == 403
    page = client.get("/admin/login/")
    token = page.cookies["csrftoken"].value
    resp = client.post("/admin/login/", {"username": "login-admin", "password": "pw-123456!",
                                         "csrfmiddlewaretoken": token})
    assert resp.status_code == 302
    assert "sessionid" in resp.cookies
    assert client.get("/admin/").status_code == 200
