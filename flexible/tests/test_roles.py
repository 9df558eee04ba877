"""The roles reach the flexible-employment screens by their groups alone (accounts.roles
WORK_APPS), as they reach the resident scheme's: a caseworker works on them, an auditor reads
them, and nobody deletes a record from the UI."""

from __future__ import annotations

import pytest

from enrollment.tests.support import auditor, caseworker

pytestmark = pytest.mark.django_db
URL = "/admin/flexible/flexibleenrollment/"


def test_a_caseworker_by_group_alone_lists_and_adds(client, policies):
    user = caseworker("cw_group_only", "610400")
    assert user.has_perm("flexible.view_flexibleenrollment")
    assert user.has_perm("flexible.add_flexibleenrollment")
    client.force_login(user)
    assert client.get(URL).status_code == 200
    assert client.get(URL + "add/").status_code == 200


def test_an_auditor_reads_but_does_not_add(client, policies):
    user = auditor("aud_flex")
    assert user.has_perm("flexible.view_flexibleenrollment")
    assert not user.has_perm("flexible.add_flexibleenrollment")
    client.force_login(user)
    assert client.get(URL).status_code == 200
    assert client.get(URL + "add/").status_code == 403


def test_no_role_deletes_from_the_ui(client, policies):
    client.force_login(caseworker("cw_no_delete", "610400"))
    page = client.get(URL)
    assert "delete_selected" not in page.content.decode()
