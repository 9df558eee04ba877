"""The per-process cache of API tokens (accounts.services.api_token_authenticate): a token is
read from the database at most every TOKEN_CACHE_SECONDS; revoked here it is refused at
once, revoked elsewhere (another process: here a direct UPDATE) within that time."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts import services
from accounts.models import ApiToken
from accounts.services import TOKEN_CACHE_SECONDS, api_token_authenticate, api_token_create, api_token_revoke

pytestmark = pytest.mark.django_db


@pytest.fixture
def clock(monkeypatch):
    """The monotonic clock the cache reads, moved by hand."""
    now = [1000.0]
    monkeypatch.setattr(services.time, "monotonic", lambda: now[0])
    monkeypatch.setattr(services, "_tokens", {})
    return now


def test_a_token_is_read_once_per_period(clock, django_assert_num_queries):
    token, raw = api_token_create(name="bank", scope="channel")
    with django_assert_num_queries(2):  # read, and last_used_at written (never used yet)
        assert api_token_authenticate(raw).pk == token.pk
    clock[0] += TOKEN_CACHE_SECONDS - 0.1
    with django_assert_num_queries(0):
        assert api_token_authenticate(raw).pk == token.pk
    clock[0] += 0.2
    with django_assert_num_queries(1):  # read again; last_used_at is less than a minute old
        assert api_token_authenticate(raw).pk == token.pk


def test_a_token_revoked_in_another_process_is_refused_within_the_period(clock):
    token, raw = api_token_create(name="bank", scope="channel")
    assert api_token_authenticate(raw).pk == token.pk
    # another process (the admin's) revokes it: this process's cache is not told
    ApiToken.objects.filter(pk=token.pk).update(revoked_at=timezone.now())
    clock[0] += TOKEN_CACHE_SECONDS - 0.1
    assert api_token_authenticate(raw).pk == token.pk  # still accepted, for at most the period
    clock[0] += 0.2
    assert api_token_authenticate(raw) is None
    clock[0] += 0.1
    assert api_token_authenticate(raw) is None


def test_a_token_revoked_in_this_process_is_refused_at_once(clock, django_capture_on_commit_callbacks):
    token, raw = api_token_create(name="bank", scope="channel")
    assert api_token_authenticate(raw).pk == token.pk
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        api_token_revoke(token=token)
    assert len(callbacks) == 1  # forgotten again once committed
    assert api_token_authenticate(raw) is None
    assert ApiToken.objects.get(pk=token.pk).revoked_at is not None


def test_unknown_tokens_are_not_kept(clock, django_assert_num_queries):
    for _ in range(3):
        with django_assert_num_queries(1):
            assert api_token_authenticate("not-a-token") is None
    assert services._tokens == {}


def test_last_used_is_written_when_read_and_older_than_a_minute(clock):
    token, raw = api_token_create(name="bank", scope="channel")
    api_token_authenticate(raw)
    first = ApiToken.objects.get(pk=token.pk).last_used_at
    assert first is not None
    old = first - timedelta(minutes=2)
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=old)
    api_token_authenticate(raw)  # from the cache: not written
    assert ApiToken.objects.get(pk=token.pk).last_used_at == old
    clock[0] += TOKEN_CACHE_SECONDS + 1
    api_token_authenticate(raw)
    assert ApiToken.objects.get(pk=token.pk).last_used_at > old


def test_a_revoked_token_gets_401_from_the_api_at_once(client, clock):
    """The channel API through the cache: accepted, revoked by the service, then refused."""
    token, raw = api_token_create(name="bank", scope="channel")
    url = "/api/v1/dues?id_number=110105199003070017&name=x&year=2026"
    assert client.get(url, HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 404  # in, and not registered
    api_token_revoke(token=token)
    resp = client.get(url, HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert (resp.status_code, resp.json()["error"]["code"]) == (401, "unauthorized")
