"""Login lockout: 5 failures within 15 minutes lock the username, even for the right password."""

from datetime import timedelta

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.utils import timezone

from accounts.models import LoginFailure

LOGIN = "/admin/login/"
PASSWORD = "Correct-horse-42"


@pytest.fixture
def alice(db):
    return get_user_model().objects.create_user("alice", password=PASSWORD, is_staff=True)


def login(client, password, username="alice"):
    resp = client.post(LOGIN, {"username": username, "password": password, "next": "/admin/"})
    ok = resp.status_code == 302 and "_auth_user_id" in client.session
    if ok:
        client.logout()
    return ok


def age_failures(minutes):
    LoginFailure.objects.update(at=timezone.now() - timedelta(minutes=minutes))


def test_five_failures_lock_out_even_the_right_password(client, alice):
    for _ in range(5):
        assert not login(client, "wrong")
    assert LoginFailure.objects.filter(username="alice").count() == 5
    assert not login(client, PASSWORD)
    assert authenticate(username="alice", password=PASSWORD) is None
    # the refused attempts are counted too; other users are not affected
    assert LoginFailure.objects.filter(username="alice").count() == 7
    get_user_model().objects.create_user("bob", password=PASSWORD, is_staff=True)
    assert login(client, PASSWORD, username="bob")


def test_the_lock_ends_when_the_window_has_passed(client, alice):
    for _ in range(5):
        assert not login(client, "wrong")
    age_failures(14)
    assert not login(client, PASSWORD)  # still inside 15 minutes (and this attempt counts anew)
    age_failures(16)
    assert login(client, PASSWORD)
    assert not LoginFailure.objects.filter(username="alice").exists()  # a success clears the count


def test_four_failures_do_not_lock_and_a_success_resets_the_count(client, alice):
    for _ in range(4):
        assert not login(client, "wrong")
    assert login(client, PASSWORD)
    assert LoginFailure.objects.count() == 0
    for _ in range(4):
        assert not login(client, "wrong")
    assert login(client, PASSWORD)


def test_the_lock_is_per_username_whatever_its_case(client, alice):
    for _ in range(5):
        assert not login(client, "wrong", username="ALICE")
    assert not login(client, PASSWORD)
    assert LoginFailure.objects.filter(username="ALICE").count() == 5


def test_failures_record_the_source_address(client, alice):
    client.post(LOGIN, {"username": "alice", "password": "wrong"}, REMOTE_ADDR="10.1.2.3")
    assert list(LoginFailure.objects.values_list("username", "ip")) == [("alice", "10.1.2.3")]
