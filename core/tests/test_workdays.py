"""The working-day calendar: the years chinesecalendar knows (seeded by the migration), a year it
does not know (2027) unknown until a policy administrator enters it, and the admin's checks."""

from datetime import date
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command

from accounts.roles import POLICY_ADMIN
from core import workdays
from core.models import CalendarDay, WorkdayCalendarYear
from core.workdays import WorkdayUnknown, add_workdays, is_workday, known_years
from enrollment.tests.support import PASSWORD, auditor, caseworker

pytestmark = pytest.mark.django_db

MESSAGE_2027 = ("2027 年的节假日安排尚未录入（国务院公布后请在“工作日日历”中录入），"
                "无法判断 2027-01-04 是否为工作日")


@pytest.fixture(autouse=True)
def seeded(db):
    """What the data migration wrote (again, if a transactional test flushed it)."""
    workdays.seed_from_library([2024, 2025, 2026], actor="test")


def events() -> tuple[int, int]:
    return CalendarDay.pgh_event_model.objects.count(), WorkdayCalendarYear.pgh_event_model.objects.count()


def policy_admin(username="pa"):
    user = get_user_model().objects.create_user(username=username, password=PASSWORD, is_staff=True)
    user.groups.add(Group.objects.get(name=POLICY_ADMIN))
    return user


def year_form(year, *days, notes=""):
    """The admin's add form: the year and its exception days (date, "True"=上班/"False"=放假, name)."""
    data = {"year": str(year), "notes": notes,
            "days-TOTAL_FORMS": str(len(days)), "days-INITIAL_FORMS": "0",
            "days-MIN_NUM_FORMS": "0", "days-MAX_NUM_FORMS": "1000"}
    for i, (day, flag, name) in enumerate(days):
        data.update({f"days-{i}-date": day, f"days-{i}-is_workday": flag, f"days-{i}-name": name})
    return data


# --- what the library says, and the database after the migration ------------------------------

def test_the_library_data_for_2026_national_day():
    # checked against chinesecalendar 1.11: 10-01..10-07 off (10-03/04 a weekend), 09-20 (Sun) and
    # 10-10 (Sat) worked; 09-25 (Fri) 中秋 off
    rows = {d: (flag, name) for d, flag, name in workdays.library_exceptions(2026)}
    assert rows[date(2026, 10, 1)] == (False, "国庆节")
    assert rows[date(2026, 10, 10)] == (True, "国庆节调休上班")
    assert rows[date(2026, 9, 20)] == (True, "国庆节调休上班")
    assert rows[date(2026, 9, 25)] == (False, "中秋")
    assert date(2026, 10, 3) not in rows  # a Saturday off is no exception
    assert len(rows) == 25


def test_the_database_holds_2024_to_2026_as_the_library_gives_them():
    assert known_years() == [2024, 2025, 2026]
    for year in (2024, 2025, 2026):
        stored = set(CalendarDay.objects.filter(year__year=year).values_list("date", "is_workday", "name"))
        assert stored == set(workdays.library_exceptions(year))
        assert WorkdayCalendarYear.objects.get(year=year).source == "chinesecalendar 1.11.0"
    assert CalendarDay.objects.count() == 75


def test_2026_national_day_and_its_make_up_saturday():
    assert is_workday(date(2026, 10, 1)) is False  # Thursday, 国庆节
    assert is_workday(date(2026, 10, 7)) is False  # Wednesday, 国庆节
    assert is_workday(date(2026, 10, 8)) is True  # Thursday, back to work
    assert is_workday(date(2026, 10, 10)) is True  # Saturday, 调休上班
    assert is_workday(date(2026, 10, 11)) is False  # Sunday
    assert is_workday(date(2026, 9, 29)) is True  # an ordinary Tuesday


def test_add_workdays_across_the_national_day_holiday():
    assert add_workdays(date(2026, 9, 30), 1) == date(2026, 10, 8)
    assert add_workdays(date(2026, 9, 30), 3) == date(2026, 10, 10)  # the Saturday counts
    assert add_workdays(date(2026, 9, 30), 5) == date(2026, 10, 13)  # 8, 9, 10, 12, 13
    # 003 §五: a bank payment made on 09-28 shows after 5 working days
    assert add_workdays(date(2026, 9, 28), 5) == date(2026, 10, 10)  # 29, 30, 8, 9 and Saturday 10
    assert add_workdays(date(2026, 9, 28), 4) == date(2026, 10, 9)
    assert add_workdays(date(2026, 9, 30), 0) == date(2026, 9, 30)
    with pytest.raises(ValueError):
        add_workdays(date(2026, 9, 30), -1)


def test_2027_is_unknown_with_a_plain_message():
    with pytest.raises(WorkdayUnknown) as exc:
        is_workday(date(2027, 1, 4))
    assert str(exc.value) == MESSAGE_2027
    assert isinstance(exc.value, ValueError) and exc.value.year == 2027
    with pytest.raises(WorkdayUnknown, match="无法判断 2027-01-01 是否为工作日"):
        add_workdays(date(2026, 12, 31), 1)  # counting runs into the unknown year
    assert add_workdays(date(2026, 12, 30), 1) == date(2026, 12, 31)  # still inside 2026


# --- seeding ------------------------------------------------------------------------------------

def test_the_seed_is_idempotent():
    before = (WorkdayCalendarYear.objects.count(), CalendarDay.objects.count(), events())
    out = StringIO()
    call_command("seed_workdays", "--years", "2024-2026", stdout=out)
    assert (WorkdayCalendarYear.objects.count(), CalendarDay.objects.count(), events()) == before
    assert out.getvalue().splitlines() == [
        f"{y} 年：已存在，与 chinesecalendar 1.11.0 一致，未改动" for y in (2024, 2025, 2026)]


def test_a_seed_into_an_empty_calendar_then_again():
    WorkdayCalendarYear.objects.all().delete()
    with pytest.raises(WorkdayUnknown):
        is_workday(date(2026, 10, 1))
    out = StringIO()
    call_command("seed_workdays", stdout=out)  # default: 2024 to the library's last year
    assert out.getvalue().splitlines() == [
        "2024 年：已录入 27 个调整日（chinesecalendar 1.11.0）",
        "2025 年：已录入 23 个调整日（chinesecalendar 1.11.0）",
        "2026 年：已录入 25 个调整日（chinesecalendar 1.11.0）"]
    assert CalendarDay.objects.count() == 75 and is_workday(date(2026, 10, 1)) is False
    after = (CalendarDay.objects.count(), events())
    call_command("seed_workdays", stdout=StringIO())
    assert (CalendarDay.objects.count(), events()) == after


def test_a_year_the_library_does_not_know_is_reported_and_nothing_is_written():
    WorkdayCalendarYear.objects.filter(year=2026).delete()
    before = (CalendarDay.objects.count(), events())
    with pytest.raises(CommandError) as exc:
        call_command("seed_workdays", "--years", "2026-2027", stdout=StringIO())
    assert exc.value.returncode == 1
    assert str(exc.value) == ("chinesecalendar 1.11.0 没有 2027 年的节假日安排（国务院尚未公布，或该库未升级）："
                              "请升级 chinesecalendar，或在“工作日日历”中手工录入 2027 年；未写入任何年度")
    assert (CalendarDay.objects.count(), events()) == before  # not even 2026
    assert known_years() == [2024, 2025]


def test_a_year_a_caseworker_corrected_is_left_alone_by_the_seed():
    CalendarDay.objects.filter(date=date(2026, 10, 10)).delete()
    out = StringIO()
    call_command("seed_workdays", "--years", "2026", stdout=out)
    assert "2026 年：已存在，与 chinesecalendar 1.11.0 不一致（经办人修改过），未改动" in out.getvalue()
    assert not CalendarDay.objects.filter(date=date(2026, 10, 10)).exists()
    assert is_workday(date(2026, 10, 10)) is False  # the cache saw the delete


# --- the cache ----------------------------------------------------------------------------------

def test_the_cache_sees_every_change_without_being_told():
    assert is_workday(date(2026, 10, 9)) is True
    CalendarDay.objects.create(year=WorkdayCalendarYear.objects.get(year=2026), date=date(2026, 10, 9),
                               is_workday=False, name="测试")
    assert is_workday(date(2026, 10, 9)) is False
    CalendarDay.objects.filter(date=date(2026, 10, 9)).update(is_workday=True)
    assert is_workday(date(2026, 10, 9)) is True
    with pytest.raises(WorkdayUnknown):
        is_workday(date(2027, 1, 4))
    WorkdayCalendarYear.objects.create(year=2027)
    assert is_workday(date(2027, 1, 4)) is True


# --- the admin ----------------------------------------------------------------------------------

def test_a_policy_admin_enters_2027_by_hand_and_it_answers(client):
    with pytest.raises(WorkdayUnknown, match="^2027 年的节假日安排尚未录入"):
        is_workday(date(2027, 1, 4))
    client.force_login(policy_admin())
    resp = client.post("/admin/core/workdaycalendaryear/add/", year_form(
        2027, ("2027-01-01", "False", "元旦"), ("2027-02-06", "True", "春节调休上班"),
        notes="国办发明电〔2026〕X 号"))
    assert resp.status_code == 302, resp.content.decode()[:2000]
    y = WorkdayCalendarYear.objects.get(year=2027)
    assert (y.source, y.created_by.username, y.notes) == ("经办人录入", "pa", "国办发明电〔2026〕X 号")
    assert set(y.days.values_list("date", "is_workday", "name")) == {
        (date(2027, 1, 1), False, "元旦"), (date(2027, 2, 6), True, "春节调休上班")}
    assert is_workday(date(2027, 1, 4)) is True  # Monday
    assert is_workday(date(2027, 1, 1)) is False  # Friday, 元旦
    assert is_workday(date(2027, 2, 6)) is True  # Saturday worked
    assert add_workdays(date(2026, 12, 31), 1) == date(2027, 1, 4)
    assert known_years() == [2024, 2025, 2026, 2027]
    ctx = WorkdayCalendarYear.pgh_event_model.objects.get(pgh_obj_id=y.pk).pgh_context
    assert ctx.metadata["user"] == y.created_by.pk  # who, in the audit trail


def test_the_admin_refuses_a_day_outside_its_year(client):
    client.force_login(policy_admin())
    resp = client.post("/admin/core/workdaycalendaryear/add/", year_form(
        2027, ("2027-01-01", "False", "元旦"), ("2026-12-31", "False", "元旦")))
    assert resp.status_code == 200
    assert "2026-12-31 不在 2027 年内，请在 2026 年的日历中录入" in resp.content.decode()
    assert not WorkdayCalendarYear.objects.filter(year=2027).exists()
    assert not CalendarDay.objects.filter(date__year=2027).exists()


def test_the_admin_refuses_a_year_twice_and_a_date_twice(client):
    client.force_login(policy_admin())
    resp = client.post("/admin/core/workdaycalendaryear/add/", year_form(2026))
    assert resp.status_code == 200 and "已存在" in resp.content.decode()
    resp = client.post("/admin/core/workdaycalendaryear/add/", year_form(
        2027, ("2027-01-01", "False", "元旦"), ("2027-01-01", "True", "")))
    assert resp.status_code == 200 and not WorkdayCalendarYear.objects.filter(year=2027).exists()
    page = resp.content.decode()
    assert "同一日期只能录入一行" in page and "请修改date" not in page  # no English field name
    # a day of a year already in the calendar: named as another year's, not as "已存在"
    resp = client.post("/admin/core/workdaycalendaryear/add/", year_form(2027, ("2026-10-01", "False", "国庆")))
    assert "2026-10-01 不在 2027 年内，请在 2026 年的日历中录入" in resp.content.decode()
    assert not WorkdayCalendarYear.objects.filter(year=2027).exists()


def test_caseworkers_and_auditors_read_policy_admins_edit(client):
    y2026 = WorkdayCalendarYear.objects.get(year=2026)
    for user in (caseworker("cw"), auditor("au")):
        client.force_login(user)
        listing = client.get("/admin/core/workdaycalendaryear/")
        assert listing.status_code == 200
        assert f'<a href="/admin/core/workdaycalendaryear/{y2026.pk}/change/">2026</a>' in listing.content.decode()
        page = client.get(f"/admin/core/workdaycalendaryear/{y2026.pk}/change/")
        assert page.status_code == 200 and "国庆节调休上班" in page.content.decode()
        assert client.get("/admin/core/workdaycalendaryear/add/").status_code == 403
        assert client.post("/admin/core/workdaycalendaryear/add/", year_form(2027)).status_code == 403
    assert not WorkdayCalendarYear.objects.filter(year=2027).exists()
    client.force_login(policy_admin())
    assert client.get("/admin/core/workdaycalendaryear/add/").status_code == 200


def test_the_data_migration_seeds_2024_to_2026_and_can_run_again():
    import importlib

    from django.apps import apps

    migration = importlib.import_module("core.migrations.0003_seed_workdays_from_chinesecalendar")
    WorkdayCalendarYear.objects.all().delete()
    migration.seed(apps, None)
    assert known_years() == [2024, 2025, 2026] and CalendarDay.objects.count() == 75
    ctx = WorkdayCalendarYear.pgh_event_model.objects.filter(pgh_label="insert").latest("pgh_id").pgh_context
    assert ctx.metadata == {"actor": "migration core.0003", "action": "seed_workdays"}
    after = events()
    migration.seed(apps, None)
    assert events() == after
