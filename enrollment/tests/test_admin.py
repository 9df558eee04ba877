"""The admin of residents and enrollments: lists, search, actions, the resident page, the audit trail."""

from datetime import date
from decimal import Decimal

import pghistory
import pytest
from pghistory.models import Events

from enrollment.idnumbers import mask
from core.models import BatchRun
from enrollment.models import Enrollment, Resident
from enrollment.services import enrollment_cancel
from enrollment.tasks import renew_region

from .support import caseworker, clone, grant, msgs, person, register, register_and_pay, today_is

pytestmark = pytest.mark.usefixtures("policies")

RESIDENTS = "/admin/enrollment/resident/"
ENROLLMENTS = "/admin/enrollment/enrollment/"
NINGBO_DAY = date(2024, 11, 1)


@pytest.fixture
def people():
    p = {
        "zhang1": person("330203", "19800101", "017", name="张一", today=NINGBO_DAY),
        "zhang2": person("330203", "19810101", "028", name="张二", hukou="nonlocal", residence_permit=True,
                         today=NINGBO_DAY),
        "li": person("330203", "20040101", "031", name="李三", student="college", today=NINGBO_DAY),
        "baby": person("330203", "20230101", "041", name="王宝宝", today=NINGBO_DAY),
        "xining": person("630102", "19800101", "051", name="张西宁", today=NINGBO_DAY),
    }
    return p


def listed(resp):
    assert resp.status_code == 200
    return sorted(o.pk for o in resp.context["cl"].result_list)


def pks(*objs):
    return sorted(o.pk for o in objs)


# --- lists, filters, search ---------------------------------------------------------------------


def test_resident_changelist_filters(client, cw, people):
    p = people
    assert listed(client.get(RESIDENTS)) == pks(p["zhang1"], p["zhang2"], p["li"], p["baby"])
    assert listed(client.get(RESIDENTS, {"hukou": "nonlocal"})) == pks(p["zhang2"])
    assert listed(client.get(RESIDENTS, {"student": "college"})) == pks(p["li"])
    assert listed(client.get(RESIDENTS, {"sex": "F"})) == pks(p["zhang2"])
    assert listed(client.get(RESIDENTS, {"region": "330200", "hukou": "local"})) == pks(
        p["zhang1"], p["li"], p["baby"])


def test_enrollment_changelist_filters(client, cw, people):
    p = people
    paid = register_and_pay(p["zhang1"], 2025, NINGBO_DAY, date(2024, 12, 1), "780.00")
    school = register(p["li"], 2025, NINGBO_DAY, via="school")
    infant = register(p["baby"], 2025, NINGBO_DAY)
    cancelled = register(p["zhang2"], 2025, NINGBO_DAY)
    enrollment_cancel(enrollment=cancelled, reason="重复", actor=None)
    assert listed(client.get(ENROLLMENTS)) == pks(paid, school, infant, cancelled)
    assert listed(client.get(ENROLLMENTS, {"status": "paid"})) == pks(paid)
    assert listed(client.get(ENROLLMENTS, {"paid": "yes"})) == pks(paid)
    assert listed(client.get(ENROLLMENTS, {"paid": "no"})) == pks(school, infant)
    assert listed(client.get(ENROLLMENTS, {"category": "infant"})) == pks(infant)
    assert listed(client.get(ENROLLMENTS, {"registered_via": "school"})) == pks(school)
    assert listed(client.get(ENROLLMENTS, {"year": "2025", "status": "cancelled"})) == pks(cancelled)
    assert listed(client.get(ENROLLMENTS, {"year": "2026"})) == []
    assert listed(client.get(ENROLLMENTS, {"paid_via": "channel"})) == pks(paid)


def test_exact_id_number_search_and_name_prefix_search(client, cw, people):
    p = people
    number = p["zhang1"].id_number
    assert listed(client.get(RESIDENTS, {"q": number})) == pks(p["zhang1"])
    spaced = f" {number[:6]} {number[6:14]} {number[14:]} "
    assert listed(client.get(RESIDENTS, {"q": spaced})) == pks(p["zhang1"])
    assert listed(client.get(RESIDENTS, {"q": number[:14]})) == []  # no partial-number search
    assert listed(client.get(RESIDENTS, {"q": "张"})) == pks(p["zhang1"], p["zhang2"])
    assert listed(client.get(RESIDENTS, {"q": "张二"})) == pks(p["zhang2"])
    assert listed(client.get(RESIDENTS, {"q": "三"})) == []  # prefix, not contains
    e = register(p["zhang1"], 2025, NINGBO_DAY)
    register(p["li"], 2025, NINGBO_DAY)
    assert listed(client.get(ENROLLMENTS, {"q": number})) == pks(e)
    assert listed(client.get(ENROLLMENTS, {"q": "张一"})) == pks(e)


def test_id_numbers_are_masked_unless_the_user_may_see_them(client, cw, people):
    number = people["zhang1"].id_number
    register(people["zhang1"], 2025, NINGBO_DAY)
    for url in (RESIDENTS, ENROLLMENTS):
        html = client.get(url).content.decode()
        assert mask(number) in html and number not in html
    assert mask(number) == "330203********0175"
    page = client.get(f"{RESIDENTS}{people['zhang1'].pk}/change/").content.decode()
    assert number not in page and mask(number) in page

    full = grant(cw, "view_full_id_number")
    client.force_login(full)
    for url in (RESIDENTS, ENROLLMENTS):
        assert number in client.get(url).content.decode()


def test_export_masks_id_numbers_unless_allowed(client, cw, people):
    def export():
        url = f"{RESIDENTS}export/"
        form = client.get(url).context["form"]
        data = {"format": "1", "resource": "0"}  # CSV
        data.update({name: "on" for name in form.fields if name.startswith("residentexportresource_")})
        resp = client.post(url, data)
        assert resp.status_code == 200 and resp["Content-Type"].startswith("text/csv")
        return resp.content.decode("utf-8-sig")

    text = export()
    number = people["zhang1"].id_number
    assert mask(number) in text and number not in text and "张一" in text
    client.force_login(grant(cw, "view_full_id_number"))
    assert number in export()


# --- adding and changing residents ----------------------------------------------------------------


def test_add_resident_derives_birth_date_and_sex(client, cw):
    from .support import number as make

    data = {"id_number": make("330203", "19850607", "013"), "name": "新增人", "region": "330200",
            "hukou": "local", "student": "", "school": "", "phone": "", "birth_date": "",
            "enrollments-TOTAL_FORMS": "0", "enrollments-INITIAL_FORMS": "0"}
    resp = client.post(f"{RESIDENTS}add/", data)
    assert resp.status_code == 302, resp.context["adminform"].form.errors if resp.context else resp
    r = Resident.objects.get(name="新增人")
    assert (r.birth_date, r.sex, r.region_id) == (date(1985, 6, 7), "M", "330200")

    bad = {**data, "id_number": make("330203", "19850607", "024"), "name": "错日期", "birth_date": "1985-06-08"}
    resp = client.post(f"{RESIDENTS}add/", bad)
    assert resp.status_code == 200
    assert "不一致" in str(resp.context["adminform"].form.errors)
    assert not Resident.objects.filter(name="错日期").exists()


def change_data(r, **over):
    data = {"name": r.name, "region": r.region_id, "hukou": r.hukou,
            "residence_permit": "on" if r.residence_permit else "",
            "residence_permit_expires_on": r.residence_permit_expires_on or "", "student": r.student,
            "school": r.school, "phone": r.phone,
            "enrollments-TOTAL_FORMS": str(r.enrollments.count()),
            "enrollments-INITIAL_FORMS": str(r.enrollments.count())}
    for i, e in enumerate(r.enrollments.order_by("-year")):
        data[f"enrollments-{i}-id"] = str(e.pk)
        data[f"enrollments-{i}-resident"] = str(r.pk)
    data.update(over)
    return {k: v for k, v in data.items() if v != ""}


def test_caseworker_changes_a_resident_and_the_unpaid_enrollment_is_repriced(client, cw, people):
    r = people["zhang1"]
    Resident.objects.filter(pk=r.pk).update(phone="13800000000")
    r.refresh_from_db()
    e = register(r, 2025, NINGBO_DAY)
    with today_is(NINGBO_DAY):
        resp = client.post(f"{RESIDENTS}{r.pk}/change/", change_data(r, phone="13900000000", student="college"))
    assert resp.status_code == 302, resp.context["adminform"].form.errors
    r = Resident.objects.get(pk=r.pk)
    assert (r.phone, r.student, r.id_number) == ("13900000000", "college", people["zhang1"].id_number)
    e.refresh_from_db()
    assert (e.category, e.amount_due) == ("college", Decimal("180.00"))
    assert any("重新计算" in m for m in msgs(resp))


def test_a_change_the_service_would_refuse_is_a_form_error(client, people):
    """Moving a person whose unpaid 2026 registration cannot be priced in the new region
    (Xining has no 2026 policy): the form says why, and nothing changes."""
    clone("330200", 2025, 2026)
    r = people["zhang1"]
    e = register(r, 2026, date(2025, 11, 3))
    client.force_login(caseworker("cw_two", "330200", "630100"))
    with today_is(date(2025, 11, 5)):
        resp = client.post(f"{RESIDENTS}{r.pk}/change/", change_data(r, region="630100"))
    assert resp.status_code == 200
    errors = str(resp.context["adminform"].form.errors)
    assert "2026 年度的未缴费登记不能按变更后的信息重新核定" in errors
    r.refresh_from_db()
    e.refresh_from_db()
    assert (r.region_id, e.region_id, e.status, e.amount_due) == ("330200", "330200", "registered",
                                                                  Decimal("780.00"))


# --- actions -----------------------------------------------------------------------------------------


def test_register_action_through_its_form(client, cw, people):
    p = people
    register(p["zhang2"], 2025, NINGBO_DAY)  # already registered: reported, not doubled
    selected = [p["zhang1"].pk, p["zhang2"].pk, p["baby"].pk]
    resp = client.post(RESIDENTS, {"action": "register_for_year", "_selected_action": selected})
    assert resp.status_code == 200
    html = resp.content.decode()
    assert "待遇年度" in html and "登记方式" in html and 'name="apply"' in html
    assert Enrollment.objects.count() == 1

    with today_is(NINGBO_DAY):
        resp = client.post(RESIDENTS, {"action": "register_for_year", "_selected_action": selected,
                                       "apply": "1", "year": "2025", "registered_via": "community"})
    assert resp.status_code == 302
    got = {e.resident.name: (e.status, e.category, e.amount_due, e.registered_via, e.registered_by)
           for e in Enrollment.objects.filter(year=2025).select_related("resident")}
    assert got == {
        "张一": ("registered", "adult", Decimal("780.00"), "community", cw),
        "张二": ("registered", "adult", Decimal("780.00"), "community", None),
        "王宝宝": ("registered", "infant", Decimal("630.00"), "community", cw),
    }
    text = msgs(resp)
    assert "已登记 2 人" in text and any("张二" in m and "已登记 2025 年度" in m for m in text)


def test_register_action_with_an_invalid_year_changes_nothing(client, cw, people):
    resp = client.post(RESIDENTS, {"action": "register_for_year", "_selected_action": [people["zhang1"].pk],
                                   "apply": "1", "year": "1999", "registered_via": "community"})
    assert resp.status_code == 200 and resp.context["form"].errors
    assert not Enrollment.objects.exists()


def test_cancel_action_with_a_reason(client, cw, people):
    open_ = register(people["zhang1"], 2025, NINGBO_DAY)
    paid = register_and_pay(people["baby"], 2025, NINGBO_DAY, date(2024, 12, 1), "630.00")
    selected = [open_.pk, paid.pk]
    resp = client.post(ENROLLMENTS, {"action": "cancel_with_reason", "_selected_action": selected})
    assert resp.status_code == 200 and "注销原因" in resp.content.decode()

    resp = client.post(ENROLLMENTS, {"action": "cancel_with_reason", "_selected_action": selected,
                                     "apply": "1", "reason": ""})
    assert resp.status_code == 200 and resp.context["form"].errors
    assert Enrollment.objects.get(pk=open_.pk).status == "registered"

    resp = client.post(ENROLLMENTS, {"action": "cancel_with_reason", "_selected_action": selected,
                                     "apply": "1", "reason": "户籍迁出"})
    assert resp.status_code == 302
    open_.refresh_from_db()
    paid.refresh_from_db()
    assert (open_.status, open_.cancel_reason, open_.cancelled_by) == ("cancelled", "户籍迁出", cw)
    assert (paid.status, paid.cancel_reason) == ("paid", "")
    text = msgs(resp)
    assert "已注销 1 条登记" in text and any("王宝宝" in m and "已缴费" in m for m in text)


def test_enrollments_cannot_be_added_or_deleted_in_the_admin(client, cw, people):
    e = register(people["zhang1"], 2025, NINGBO_DAY)
    assert client.get(f"{ENROLLMENTS}add/").status_code == 403
    assert client.post(f"{ENROLLMENTS}{e.pk}/delete/", {"post": "yes"}).status_code == 403
    assert Enrollment.objects.filter(pk=e.pk).exists()


def test_default_renewal_admin_action(client, cw, people, django_capture_on_commit_callbacks):
    clone("330200", 2025, 2026)
    e = register_and_pay(people["zhang1"], 2025, NINGBO_DAY, date(2024, 12, 1), "780.00")
    with django_capture_on_commit_callbacks(execute=False) as callbacks, today_is(date(2025, 11, 3)):
        resp = client.post(ENROLLMENTS, {"action": "start_default_renewal", "_selected_action": [e.pk]})
    assert resp.status_code == 302
    run = BatchRun.objects.get()
    assert (run.kind, run.params, run.status, run.created_by) == (
        "renew_enrollments", {"region": "330200", "to_year": 2026, "today": "2025-11-03"}, "queued", cw)
    assert len(callbacks) == 1 and any(f"#{run.pk}" in m for m in msgs(resp))

    # the queued run, its tasks run here eagerly (as the workers would)
    from config.celery import app

    app.conf.task_always_eager = True
    try:
        callbacks[0]()
    finally:
        app.conf.task_always_eager = False
    run.refresh_from_db()
    assert (run.status, run.summary["renewed"]) == ("done", 1)
    new = Enrollment.objects.get(year=2026)
    assert (new.resident_id, new.registered_via, new.amount_due) == (people["zhang1"].pk, "default_renewal",
                                                                     Decimal("780.00"))
    ev = Events.objects.filter(pgh_model="enrollment.EnrollmentEvent", pgh_obj_id=str(new.pk)).get()
    assert (ev.pgh_label, ev.pgh_context["username"], ev.pgh_context["action"]) == (
        "insert", "cw330", "renew_enrollments")

    # selecting a 2026 enrollment asks for 2027, which has no published policy: refused, nothing queued
    e2026 = Enrollment.objects.get(year=2026)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        resp = client.post(ENROLLMENTS, {"action": "start_default_renewal", "_selected_action": [e2026.pk]})
    assert callbacks == [] and BatchRun.objects.count() == 1
    assert any("2027" in m and "不能续保" in m for m in msgs(resp))


def test_default_renewal_of_a_city_needs_all_its_regions(client, people, django_capture_on_commit_callbacks):
    clone("141100", 2026, 2027)
    xiaoyi = person("141181", "19850101", "011", name="孝义居民")
    e = register_and_pay(xiaoyi, 2026, date(2025, 11, 3), date(2025, 11, 20), "400.00")
    client.force_login(caseworker("cw_xiaoyi", "141181"))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        resp = client.post(ENROLLMENTS, {"action": "start_default_renewal", "_selected_action": [e.pk]})
    assert callbacks == [] and not BatchRun.objects.exists()
    assert msgs(resp) == ["吕梁市的默认续保包括吕梁市、孝义市，须由负责全部这些地区的人员发起"]


# --- the resident page: coverage and audit trail ---------------------------------------------------


def test_resident_page_shows_coverage_continuity_waiting_and_cap(client):
    clone("610400", 2025, 2026, 2027, 2028, 2029)
    steady = person("610402", "19800101", "011", name="连续")
    broke = person("610402", "19800101", "021", name="断保")
    for y in (2025, 2026, 2027, 2028):
        register_and_pay(steady, y, date(y - 1, 10, 1), date(y - 1, 11, 1), "400.00")
    for y in (2025, 2026, 2028):
        register_and_pay(broke, y, date(y - 1, 10, 1), date(y - 1, 11, 1), "400.00")
    client.force_login(caseworker("cw610", "610400"))

    with today_is(date(2028, 11, 1)):
        html = client.get(f"{RESIDENTS}{steady.pk}/change/").content.decode()
    assert "参保连续性" in html and "测算年度：2029 年度" in html
    for y in (2025, 2026, 2027, 2028):
        assert f"<tr><td>{y}</td><td>居民医保</td></tr>" in html
    assert "连续参保（此前连续 4 年）" in html
    assert "等待期：0 个月（按集中缴费期内缴费计）" in html
    assert "大病保险最高支付限额调整：3000 元" in html

    with today_is(date(2027, 11, 1)):  # for 2028: 2027 was a break year
        html = client.get(f"{RESIDENTS}{broke.pk}/change/").content.decode()
    assert "测算年度：2028 年度" in html and "<tr><td>2027</td><td>未参保</td></tr>" in html
    assert "断保 1 年（2027），已补缴 0 年" in html
    assert "等待期：3 个月（按集中缴费期内缴费计）" in html
    assert "大病保险最高支付限额调整：-3000 元" in html


def test_resident_page_without_a_policy_says_so(client, cw, people):
    with today_is(date(2031, 6, 1)):
        html = client.get(f"{RESIDENTS}{people['zhang1'].pk}/change/").content.decode()
    assert "测算年度：2031 年度" in html
    assert "等待期：2031 年度政策未发布，无法计算" in html
    assert "大病保险最高支付限额调整：2031 年度政策未发布，无法计算" in html
    assert "来源文件未给出金额" not in html


def test_audit_trail_shows_who_and_before_after(client, cw, people):
    r = people["zhang1"]
    resp = client.post(f"{RESIDENTS}{r.pk}/change/", change_data(r, phone="13900000000", school="宁波大学"))
    assert resp.status_code == 302, resp.context["adminform"].form.errors
    ev = Events.objects.filter(pgh_model="enrollment.ResidentEvent", pgh_obj_id=str(r.pk),
                               pgh_label="update").get()
    assert ev.pgh_diff["phone"] == ["", "13900000000"] and ev.pgh_diff["school"] == ["", "宁波大学"]
    assert (ev.pgh_context["username"], ev.pgh_context["action"]) == ("cw330", "resident_update")

    html = client.get(f"{RESIDENTS}{r.pk}/change/").content.decode()
    assert "变更记录" in html
    assert "<td>cw330</td><td>参保人</td><td>修改</td><td>修改参保人</td>" in html
    assert "联系电话：空 → 13900000000" in html and "学校：空 → 宁波大学" in html
    assert r.id_number not in html  # the insert event's data is masked too


def test_bulk_update_is_audited_with_before_and_after(client, cw, people):
    ningbo = Resident.objects.filter(region_id="330200")
    assert ningbo.count() == 4
    with pghistory.context(username="batch-fix", action="bulk_phone_fix"):
        assert ningbo.update(phone="0574-87000000") == 4
    events = Events.objects.filter(pgh_model="enrollment.ResidentEvent", pgh_label="update")
    assert sorted(int(e.pgh_obj_id) for e in events) == sorted(ningbo.values_list("pk", flat=True))
    for e in events:
        assert e.pgh_diff["phone"] == ["", "0574-87000000"]
        assert e.pgh_context["action"] == "bulk_phone_fix"
    assert not Events.objects.filter(pgh_model="enrollment.ResidentEvent", pgh_label="update",
                                     pgh_obj_id=str(people["xining"].pk)).exists()
    html = client.get(f"{RESIDENTS}{people['li'].pk}/change/").content.decode()
    assert "<td>batch-fix</td>" in html and "联系电话：空 → 0574-87000000" in html
    assert "<td>其他操作</td>" in html and "bulk_phone_fix" not in html


def test_bulk_delete_is_audited(people):
    ids = [people["zhang1"].pk, people["zhang2"].pk]
    with pghistory.context(actor="cleanup", action="delete_test_rows"):
        Resident.objects.filter(pk__in=ids).delete()
    events = Events.objects.filter(pgh_model="enrollment.ResidentEvent", pgh_label="delete")
    assert sorted(int(e.pgh_obj_id) for e in events) == sorted(ids)
    assert {e.pgh_data["name"] for e in events} == {"张一", "张二"}
    assert {e.pgh_context["actor"] for e in events} == {"cleanup"}


def test_actions_refuse_a_selection_over_the_limit_and_do_nothing(client, cw, people, monkeypatch):
    from enrollment.admin import common as enrollment_admin  # where too_many_for_an_action reads it

    monkeypatch.setattr(enrollment_admin, "ACTION_LIMIT", 2)
    selected = [people["zhang1"].pk, people["zhang2"].pk, people["baby"].pk]
    with today_is(NINGBO_DAY):
        resp = client.post(RESIDENTS, {"action": "register_for_year", "_selected_action": selected,
                                       "apply": "1", "year": "2025", "registered_via": "community"})
    assert resp.status_code == 302
    assert msgs(resp) == ["所选超过 2 条，未办理：请用筛选缩小范围，或用导入（参保年度列）或命令行批量办理"]
    assert not Enrollment.objects.exists()

    opened = [register(people[name], 2025, NINGBO_DAY).pk for name in ("zhang1", "zhang2", "baby")]
    resp = client.post(ENROLLMENTS, {"action": "cancel_with_reason", "_selected_action": opened,
                                     "apply": "1", "reason": "户籍迁出"})
    assert resp.status_code == 302
    assert msgs(resp)[0].startswith("所选超过 2 条，未办理")
    assert set(Enrollment.objects.values_list("status", flat=True)) == {"registered"}

    # at the limit the action goes ahead
    resp = client.post(ENROLLMENTS, {"action": "cancel_with_reason", "_selected_action": opened[:2],
                                     "apply": "1", "reason": "户籍迁出"})
    assert "已注销 2 条登记" in msgs(resp)
