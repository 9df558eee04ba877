"""Who may do what is audited (issue 7, finding 9): users, groups, a user's groups and
permissions, group permissions, the regions given to a user and the release of a login lock
are recorded by database triggers with who did it and when; the password's value never is."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.utils import timezone

from core.audit import audit_context
from accounts.models import (
    GroupEvent,
    GroupPermissionEvent,
    LoginFailure,
    LoginFailureEvent,
    StaffRegion,
    StaffRegionEvent,
    UserEvent,
    UserGroupEvent,
    UserPermissionEvent,
)
from accounts.roles import AUDITOR
from accounts.services import login_lock_release

PASSWORD = "Correct-horse-42"


@pytest.fixture
def boss(db):
    return User.objects.create_superuser("boss", password=PASSWORD)


@pytest.fixture
def alice(db):
    return User.objects.create_user("alice", password=PASSWORD, is_staff=True)


def perm(codename):
    return Permission.objects.get(codename=codename)


def who(event):
    """The acting user as the event's context holds it."""
    return {k: v for k, v in (event.pgh_context.metadata if event.pgh_context else {}).items()
            if k in ("user", "username", "action")}


# --- users ------------------------------------------------------------------------------------


def test_creating_a_user_is_recorded_without_the_password(boss):
    with audit_context(boss):
        carol = User.objects.create_user("carol", password=PASSWORD, is_staff=True)
    (event,) = UserEvent.objects.filter(pgh_obj_id=carol.pk)
    assert (event.pgh_label, event.id, event.username, event.is_staff, event.is_active,
            event.is_superuser) == ("insert", carol.pk, "carol", True, True, False)
    assert who(event) == {"user": boss.pk, "username": "boss"}
    columns = {f.name for f in UserEvent._meta.fields}
    assert "password" not in columns and "last_login" not in columns
    row = UserEvent.objects.filter(pk=event.pk).values().get()
    assert not any(carol.password in str(v) for v in row.values())


def test_is_active_is_staff_and_is_superuser_changes_are_recorded(boss, alice):
    with audit_context(boss):
        alice.is_active = False
        alice.save()
        User.objects.filter(pk=alice.pk).update(is_superuser=True, is_staff=False)  # bulk, too
    events = list(UserEvent.objects.filter(pgh_obj_id=alice.pk, pgh_label="update").order_by("pgh_id"))
    assert [(e.is_active, e.is_staff, e.is_superuser) for e in events] == [(False, True, False),
                                                                           (False, False, True)]
    assert all(who(e) == {"user": boss.pk, "username": "boss"} for e in events)


def test_a_password_change_is_recorded_without_its_value(boss, alice):
    before = UserEvent.objects.count()
    with audit_context(boss, action="password_change"):
        alice.set_password("Another-horse-43")
        alice.save()
    assert UserEvent.objects.count() == before + 1
    event = UserEvent.objects.order_by("-pgh_id").first()
    assert (event.pgh_label, event.pgh_obj_id, event.username) == ("password_change", alice.pk, "alice")
    assert who(event) == {"user": boss.pk, "username": "boss", "action": "password_change"}


def test_a_login_is_not_a_change_of_rights(client, alice):
    before = UserEvent.objects.count()
    assert client.login(username="alice", password=PASSWORD)
    assert User.objects.get(pk=alice.pk).last_login is not None
    assert UserEvent.objects.count() == before


# --- groups and permissions -------------------------------------------------------------------


def test_granting_and_taking_the_auditor_group(boss, alice):
    auditors = Group.objects.get(name=AUDITOR)
    with audit_context(boss):
        alice.groups.add(auditors)
    with audit_context(boss, action="revoke"):
        alice.groups.remove(auditors)
    events = list(UserGroupEvent.objects.order_by("pgh_id"))
    assert [(e.pgh_label, e.user_id, e.group_id) for e in events] == [
        ("add", alice.pk, auditors.pk), ("remove", alice.pk, auditors.pk)]
    assert who(events[0]) == {"user": boss.pk, "username": "boss"}
    assert who(events[1]) == {"user": boss.pk, "username": "boss", "action": "revoke"}


def test_granting_all_regions_to_a_user(boss, alice):
    all_regions = perm("all_regions")
    with audit_context(boss):
        alice.user_permissions.add(all_regions)
        alice.user_permissions.clear()
    events = list(UserPermissionEvent.objects.order_by("pgh_id"))
    assert [(e.pgh_label, e.user_id, e.permission_id) for e in events] == [
        ("add", alice.pk, all_regions.pk), ("remove", alice.pk, all_regions.pk)]
    assert all(who(e) == {"user": boss.pk, "username": "boss"} for e in events)


def test_full_id_numbers_given_to_a_group_and_the_group_itself(boss):
    full_numbers = perm("view_full_id_number")
    assert full_numbers.name == "可以查看完整身份证号码"
    with audit_context(boss):
        group = Group.objects.create(name="科长")
        group.permissions.add(full_numbers)
        Group.objects.filter(pk=group.pk).update(name="副科长")
    assert [(e.pgh_label, e.name) for e in GroupEvent.objects.filter(pgh_obj_id=group.pk).order_by("pgh_id")] \
        == [("insert", "科长"), ("update", "副科长")]
    (event,) = GroupPermissionEvent.objects.filter(group_id=group.pk)
    assert (event.pgh_label, event.permission_id) == ("add", full_numbers.pk)
    assert who(event) == {"user": boss.pk, "username": "boss"}


def test_a_deleted_group_leaves_the_removal_of_its_members(boss, alice):
    with audit_context(boss):
        group = Group.objects.create(name="临时组")
        alice.groups.add(group)
    group_id = group.pk
    with audit_context(boss, action="cleanup"):
        group.delete()
    assert [(e.pgh_label, e.user_id) for e in UserGroupEvent.objects.filter(group_id=group_id).order_by("pgh_id")] \
        == [("add", alice.pk), ("remove", alice.pk)]
    (deleted,) = GroupEvent.objects.filter(pgh_obj_id=group_id, pgh_label="delete")
    assert who(deleted) == {"user": boss.pk, "username": "boss", "action": "cleanup"}


# --- regions given to a user ------------------------------------------------------------------


def test_a_region_given_and_taken_is_recorded(boss, alice):
    with audit_context(boss):
        sr = StaffRegion.objects.create(user=alice, region_id="330200")
        sr.delete()
    events = list(StaffRegionEvent.objects.filter(user_id=alice.pk).order_by("pgh_id"))
    assert [(e.pgh_label, e.region_id) for e in events] == [("insert", "330200"), ("delete", "330200")]
    assert all(who(e) == {"user": boss.pk, "username": "boss"} for e in events)


# --- the release of a login lock --------------------------------------------------------------


def lock(username, times=5):
    for _ in range(times):
        LoginFailure.objects.create(username=username, ip="10.0.0.1")


def test_releasing_a_lock_is_recorded_with_who_released_it(boss, alice):
    lock("ALICE", 3)
    lock("alice", 2)
    lock("bob", 5)
    released = login_lock_release(usernames=["alice"], actor=boss)
    assert released == 5
    assert sorted(LoginFailure.objects.values_list("username", flat=True)) == ["bob"] * 5
    events = list(LoginFailureEvent.objects.filter(pgh_label="delete"))
    assert sorted(e.username for e in events) == ["ALICE"] * 3 + ["alice"] * 2
    assert {e.pgh_context_id for e in events} != {None}
    assert len({e.pgh_context_id for e in events}) == 1
    assert events[0].pgh_context.metadata == {"user": boss.pk, "username": "boss",
                                              "action": "login_lock_release", "released": "alice"}


def test_the_admin_unlock_action_is_an_audited_release(client, boss, alice):
    lock("alice")
    client.force_login(boss)
    failure = LoginFailure.objects.filter(username="alice").first()
    resp = client.post("/admin/accounts/loginfailure/",
                       {"action": "unlock", "_selected_action": [failure.pk]})
    assert resp.status_code == 302
    assert not LoginFailure.objects.exists()
    events = list(LoginFailureEvent.objects.filter(pgh_label="delete"))
    assert len(events) == 5
    ctx = events[0].pgh_context.metadata
    assert (ctx["user"], ctx["username"], ctx["action"], ctx["released"]) == (
        boss.pk, "boss", "login_lock_release", "alice")
    # the released user can log in at once
    assert client.login(username="alice", password=PASSWORD)


def test_a_successful_login_clearing_failures_is_told_apart_from_a_release(client, alice):
    lock("alice", 2)
    assert client.login(username="alice", password=PASSWORD)
    events = list(LoginFailureEvent.objects.filter(pgh_label="delete"))
    assert len(events) == 2
    assert who(events[0]) == {"user": alice.pk, "username": "alice", "action": "login_success"}


# --- the auditor's trail ----------------------------------------------------------------------


def test_the_auditor_sees_these_events_in_the_audit_trail(client, boss, alice):
    auditor = User.objects.create_user("audit1", password=PASSWORD, is_staff=True)
    auditor.groups.add(Group.objects.get(name=AUDITOR))
    with audit_context(boss):
        alice.groups.add(Group.objects.get(name=AUDITOR))
        alice.user_permissions.add(perm("all_regions"))
        StaffRegion.objects.create(user=alice, region_id="330200")
    lock("alice")
    login_lock_release(usernames=["alice"], actor=boss)
    client.force_login(auditor)
    for label in ["accounts.usergroupevent", "accounts.userpermissionevent", "accounts.staffregionevent",
                  "accounts.loginfailureevent", "accounts.userevent"]:
        resp = client.get("/admin/pghistory/events/", {"event_model": label})
        assert resp.status_code == 200, label
        assert resp.context["cl"].result_count >= 1, label
        models = {row.pgh_model.lower() for row in resp.context["cl"].result_list}
        assert models == {label}, label
    resp = client.get("/admin/pghistory/events/", {"event_model": "accounts.usergroupevent"})
    (row,) = resp.context["cl"].result_list.filter(pgh_data__user_id=alice.pk)
    assert row.pgh_context["username"] == "boss"
    assert row.pgh_created_at > timezone.now() - timedelta(minutes=1)

