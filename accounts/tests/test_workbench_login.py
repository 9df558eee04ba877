"""Issue 12, item 10: a locked account is told so (and for how long), not "wrong password"."""

import pytest
from django.contrib.auth import get_user_model

from accounts.models import LoginFailure

LOGIN = "/admin/login/"
PASSWORD = "Correct-horse-42"
LOCKED = "该账号连续 5 次登录失败，已锁定 15 分钟：请 15 分钟后再试，或请系统管理员解除锁定。"


@pytest.fixture
def alice(db):
    return get_user_model().objects.create_user("alice", password=PASSWORD, is_staff=True)


def errors(resp) -> list[str]:
    return list(resp.context["form"].non_field_errors())


def post(client, password, username="alice"):
    return client.post(LOGIN, {"username": username, "password": password, "next": "/admin/"})


def test_the_right_password_on_a_locked_account_is_told_of_the_lock(client, alice):
    for _ in range(4):
        resp = post(client, "wrong")
        assert LOCKED not in errors(resp) and len(errors(resp)) == 1  # still the usual message
    resp = post(client, "wrong")  # the fifth: now locked
    assert errors(resp) == [LOCKED]
    resp = post(client, PASSWORD)
    assert resp.status_code == 200 and "_auth_user_id" not in client.session
    assert errors(resp) == [LOCKED]
    assert LOCKED in resp.content.decode()
    assert LoginFailure.objects.filter(username="alice").count() == 6


def test_an_unlocked_wrong_password_keeps_the_usual_message(client, alice):
    resp = post(client, "wrong")
    assert errors(resp) != [LOCKED] and "用户名" in errors(resp)[0]


def test_the_site_has_a_favicon_and_no_link_looping_to_itself(client, alice):
    assert client.get("/favicon.ico").headers["Location"] == "/static/core/favicon.svg"
    client.force_login(alice)
    html = client.get("/admin/").content.decode()
    assert "查看站点" not in html
    assert '<link rel="icon" type="image/svg+xml" href="/static/core/favicon.svg">' in html
