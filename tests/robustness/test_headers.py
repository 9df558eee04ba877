"""Site-wide response headers (issue 8, "also seen"): a Content-Security-Policy on every
page, and the Django admin still working under it."""

import json
import re

import pytest
from django.contrib.auth import get_user_model

CSP = "Content-Security-Policy"


@pytest.fixture
def superuser_client(client, db):
    user = get_user_model().objects.create_superuser("csp-admin", "csp@example.org", "pw-123456!")
    client.force_login(user)
    return client


def _directives(header: str) -> dict:
    return {d.split()[0]: d.split()[1:] for d in (p.strip() for p in header.split(";")) if d}


@pytest.mark.parametrize("url", ["/admin/login/", "/api/v1/openapi.json", "/api/v1/quote", "/nowhere"])
def test_every_answer_carries_the_csp(client, db, url):
    resp = client.get(url)
    policy = _directives(resp[CSP])
    assert policy["default-src"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["object-src"] == ["'none'"]
    assert "'unsafe-inline'" not in policy.get("script-src", [])


@pytest.mark.parametrize("url", [
    "/admin/", "/admin/enrollment/resident/", "/admin/enrollment/resident/add/",
    "/admin/enrollment/enrollment/", "/admin/auth/user/add/", "/admin/policy/policyyear/", "/admin/quote/",
])
def test_admin_pages_render_without_inline_scripts(superuser_client, policies, url):
    """The policy allows only the site's own script files: an inline <script> with code in
    it, or an on*= handler, would be blocked in the browser.  A data block (json_script's
    ``<script type="application/json">``) is never executed, so the policy allows it — but it
    must be exactly that, JSON."""
    resp = superuser_client.get(url)
    assert resp.status_code == 200, url
    assert CSP in resp
    html = resp.content.decode()
    for attrs, body in re.findall(r"<script\b([^>]*)>(.*?)</script>", html, flags=re.S):
        if 'type="application/json"' in attrs:
            json.loads(body)  # a data block, never run
            continue
        assert not body.strip(), f"inline script on {url}: {body[:80]}"
    assert not re.search(r"\son[a-z]+\s*=", html), f"inline event handler on {url}"
    assert "<style" not in html, f"inline <style> on {url}"
