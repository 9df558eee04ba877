"""Issue 12, item 10 in the browser: a locked account reads why it cannot log in."""

import pytest
from django.contrib.auth import get_user_model

from .workbench import Watcher, assert_plain_chinese, shot

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "Correct-horse-42"


def attempt(page, live_server, password):
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "locked_browser")
    page.fill("#id_password", password)
    page.click("input[type=submit]")
    page.wait_for_selector(".errornote")
    return page.inner_text(".errornote")


def test_the_right_password_after_five_failures_is_told_of_the_lock(page, live_server):
    get_user_model().objects.create_user("locked_browser", password=PASSWORD, is_staff=True)
    watch = Watcher(page)
    for _ in range(5):
        attempt(page, live_server, "wrong")
    message = attempt(page, live_server, PASSWORD)
    assert message == "该账号连续 5 次登录失败，已锁定 15 分钟：请 15 分钟后再试，或请系统管理员解除锁定。"
    assert_plain_chinese(page.inner_text("#content"))
    shot(page, "workbench-login-locked")
    watch.assert_clean()
