"""Issue 8 item 2: parallel password guessing. Attempts for one username are serialised
(a PostgreSQL advisory transaction lock per lower-cased username around check, password
check and count), so concurrent guesses cannot all be checked before the count catches up.

The rule: an attempt is checked only when fewer than LOGIN_MAX_FAILURES failures are
recorded for the username in the window; every attempt that is not a success is recorded
(a refused one too); a success clears the count."""

import threading

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.db import connections
from django.test import Client

from accounts.models import LoginFailure

pytestmark = pytest.mark.django_db(transaction=True)

LOGIN = "/admin/login/"
PASSWORD = "Correct-horse-42"


@pytest.fixture
def alice():
    return get_user_model().objects.create_user("alice", password=PASSWORD, is_staff=True)


@pytest.fixture
def checked(monkeypatch):
    """Counts the attempts whose password was really checked."""
    calls = []
    lock = threading.Lock()
    real = ModelBackend.authenticate

    def counting(self, request, username=None, password=None, **kwargs):
        with lock:
            calls.append(password)
        return real(self, request, username=username, password=password, **kwargs)

    monkeypatch.setattr(ModelBackend, "authenticate", counting)
    return calls


def attempt_all(passwords, username="alice"):
    """Post every password at the same moment, each from its own thread and connection."""
    barrier = threading.Barrier(len(passwords), timeout=30)
    results, errors = [None] * len(passwords), []

    def run(i, password):
        try:
            client = Client()
            barrier.wait()
            resp = client.post(LOGIN, {"username": username, "password": password, "next": "/admin/"})
            results[i] = resp.status_code == 302 and "_auth_user_id" in client.session
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, p)) for i, p in enumerate(passwords)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    return results


def test_twenty_concurrent_wrong_passwords_check_at_most_the_limit(alice, checked):
    results = attempt_all([f"wrong-{i}" for i in range(20)])
    assert not any(results)
    assert len(checked) == settings.LOGIN_MAX_FAILURES  # the rest refused as locked, unchecked
    assert LoginFailure.objects.filter(username="alice").count() == 20  # every attempt counted


def test_thirty_concurrent_attempts_with_the_right_one_log_in_at_most_once(alice, checked):
    passwords = [f"wrong-{i}" for i in range(29)] + [PASSWORD]
    results = attempt_all(passwords)
    assert sum(results) <= 1
    # before the success at most the limit was checked; a success clears the count, so at
    # most the limit again after it
    limit = settings.LOGIN_MAX_FAILURES
    assert len(checked) <= (2 * limit + 1 if any(results) else limit)


def test_the_right_password_twice_at_once_when_the_limit_is_near(alice, checked):
    """Four failures recorded, then ten wrong guesses and the right password twice at once.
    A password is checked only while fewer than the limit of failures stand: before any
    success at most one wrong guess is checked (the fifth failure locks), and each success
    (which clears the count) lets at most the limit of guesses be checked again.  Which
    attempts win the race varies; the bound does not."""
    for i in range(4):
        LoginFailure.objects.create(username="alice", ip=None)
    results = attempt_all([f"wrong-{i}" for i in range(10)] + [PASSWORD, PASSWORD])
    successes = sum(results)
    assert successes <= 2
    wrong_checked = [p for p in checked if p != PASSWORD]
    assert len(wrong_checked) <= 1 + settings.LOGIN_MAX_FAILURES * successes
