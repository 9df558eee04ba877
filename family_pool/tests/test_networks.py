"""Networks: organizer eligibility (each reason; province scope for 宁波/浙江 and 吕梁/山西),
members (the region's relations, insured in the region, one network at a time — also under two
concurrent adds), modes and the cancellation deadlines, leave and dissolve."""

import threading
import time

import pytest
from django.db import connections, transaction

from enrollment.tests.support import number
from family_pool.models import ModeChange, Network, Participation
from family_pool.networks import (PoolError, member_add, member_edit, member_leave, membership_view, modes_set,
                                  network_create, network_dissolve, organizer_view)

from .pool_support import assert_ledger_balanced, at, covered, employee, enrolled

pytestmark = pytest.mark.usefixtures("policies")
DEC = at(2024, 12, 10)  # Shanghai 2025: the 12-20 17:00 deadlines are ahead


def refused(code, fn, **kw):
    with pytest.raises(PoolError) as exc:
        fn(**kw)
    assert exc.value.code == code, exc.value.message
    return exc.value


# --- organizer --------------------------------------------------------------------------

@pytest.mark.django_db
def test_organizer_eligible_in_shanghai():
    acc = employee("310101", "19800101", "011", name="张组建", region="310000", hist="2000.00")
    n = network_create(organizer_id_number=acc.id_number, actor="test", now=DEC)
    n = Network.objects.get(pk=n.pk)
    assert (n.region_id, n.organizer_name, n.account_id, n.status, n.medical_mode, n.premium_mode) == (
        "310000", "张组建", acc.pk, "active", False, False)
    p = Participation.objects.get(network=n)
    assert (p.id_number, p.role, p.relation, p.left_at) == (acc.id_number, "organizer", "", None)


@pytest.mark.django_db
@pytest.mark.parametrize("hist,status,region,reason", [
    ("0.00", "正常", "310000", "历年结余资金为零"),
    ("500.00", "冻结", "310000", "已冻结"),
    ("500.00", "正常", "320100", "不在本系统办理家庭共济的地区"),  # 南京: not ours, Shanghai is "region" scope
])
def test_organizer_not_eligible_reasons(hist, status, region, reason):
    acc = employee("310101", "19800101", "011", region=region, hist=hist, status=status)
    err = refused("organizer_not_eligible", network_create, organizer_id_number=acc.id_number, actor="t", now=DEC)
    assert reason in err.message
    assert Network.objects.count() == 0 and Participation.objects.count() == 0


@pytest.mark.django_db
def test_organizer_without_account_and_outside_a_region_scope():
    err = refused("organizer_not_eligible", network_create, organizer_id_number=number("310101", "19800101", "099"),
                  actor="t", now=DEC)
    assert "未找到该人员的职工医保个人账户" in err.message
    # 西安 610100 insured, asking for 咸阳 (region scope): not in 咸阳市
    acc = employee("610102", "19800101", "011", region="610100", hist="500.00")
    err = refused("organizer_not_eligible", network_create, organizer_id_number=acc.id_number, region_code="610400",
                  actor="t", now=at(2025, 11, 1))
    assert err.message == "职工医保参保地 610100 不在咸阳市，组建人须为咸阳市职工医保参保人"
    assert Network.objects.count() == 0


@pytest.mark.django_db
def test_province_scope_ningbo_zhejiang():
    hangzhou = employee("330102", "19800101", "011", name="杭州人", region="330100", hist="800.00")
    n = network_create(organizer_id_number=hangzhou.id_number, actor="t", now=at(2025, 11, 1))
    assert Network.objects.get(pk=n.pk).region_id == "330200"
    # 江苏 is not 浙江
    suzhou = employee("320502", "19800101", "021", region="320500", hist="800.00")
    err = refused("organizer_not_eligible", network_create, organizer_id_number=suzhou.id_number,
                  region_code="330200", actor="t", now=at(2025, 11, 1))
    assert err.message == "职工医保参保地 320500 不在本省，组建人须为本省职工医保参保人"


@pytest.mark.django_db
def test_province_scope_lvliang_shanxi():
    taiyuan = employee("140105", "19800101", "011", region="140100", hist="300.00")
    n = network_create(organizer_id_number=taiyuan.id_number, actor="t", now=at(2025, 12, 1))
    assert Network.objects.get(pk=n.pk).region_id == "141100"
    xiaoyi = employee("141181", "19800101", "021", region="141181", hist="300.00")
    n2 = network_create(organizer_id_number=xiaoyi.id_number, actor="t", now=at(2025, 12, 1))
    assert Network.objects.get(pk=n2.pk).region_id == "141100"  # 孝义 runs 吕梁's policy


@pytest.mark.django_db
def test_already_organizer_and_member_cannot_organise():
    acc = employee("310101", "19800101", "011", hist="2000.00", region="310000")
    n = network_create(organizer_id_number=acc.id_number, actor="t", now=DEC)
    refused("already_organizer", network_create, organizer_id_number=acc.id_number, actor="t", now=DEC)
    other = employee("310101", "19820101", "021", hist="10.00", region="310000")
    member_add(network=n, id_number=other.id_number, relation="spouse", actor="t", now=DEC)
    err = refused("organizer_not_eligible", network_create, organizer_id_number=other.id_number, actor="t", now=DEC)
    assert "共济成员" in err.message
    assert Network.objects.count() == 1


# --- members ----------------------------------------------------------------------------

@pytest.fixture
def shanghai(db):
    acc = employee("310101", "19800101", "011", name="张组建", region="310000", hist="2000.00")
    return network_create(organizer_id_number=acc.id_number, actor="t", now=DEC)


@pytest.mark.django_db
def test_member_add_records_the_childs_registration(shanghai):
    kid = enrolled("310101", "20150601", "031", name="张小", year=2025, via="school",
                   registered_at=at(2024, 11, 5, 9))
    p = member_add(network=shanghai, id_number=kid.id_number, relation="child", actor="t", now=DEC)
    p = Participation.objects.get(pk=p.pk)
    assert (p.name, p.role, p.relation, p.registered_via, str(p.registered_on), p.left_at) == (
        "张小", "member", "child", "school", "2024-11-05", None)
    # a spouse (not a child): no registration kept
    wife = enrolled("310101", "19820101", "042", name="李妻", year=2025, via="community")
    q = member_add(network=shanghai, id_number=wife.id_number, relation="spouse", actor="t", now=DEC)
    assert (Participation.objects.get(pk=q.pk).registered_via, q.registered_on) == ("", None)


@pytest.mark.django_db
def test_xining_relations_spouse_parents_children_only():
    acc = employee("630102", "19800101", "011", region="630100", hist="900.00")
    n = network_create(organizer_id_number=acc.id_number, actor="t", now=at(2025, 11, 1))
    for seq, rel in (("021", "spouse"), ("031", "parent"), ("041", "child")):
        idn = covered("630102", "19700101", seq, region="630100", year=2025)
        member_add(network=n, id_number=idn, relation=rel, actor="t", now=at(2025, 11, 1))
    for seq, rel in (("051", "sibling"), ("061", "grandparent"), ("071", "grandchild")):
        idn = covered("630102", "19700101", seq, region="630100", year=2025)
        err = refused("relation_not_allowed", member_add, network=n, id_number=idn, relation=rel, actor="t",
                      now=at(2025, 11, 1))
        assert "配偶、父母、子女" in err.message
    assert sorted(Participation.objects.filter(network=n, role="member").values_list("relation", flat=True)) == [
        "child", "parent", "spouse"]


@pytest.mark.django_db
def test_not_insured_in_region(shanghai):
    ningbo_kid = enrolled("330203", "20150101", "011", year=2025)  # enrolled in 宁波
    refused("not_insured_in_region", member_add, network=shanghai, id_number=ningbo_kid.id_number,
            relation="child", actor="t", now=DEC)
    ended = covered("310101", "19600101", "021", region="310000", ended_on=DEC.date().replace(day=1))
    refused("not_insured_in_region", member_add, network=shanghai, id_number=ended, relation="parent",
            actor="t", now=DEC)
    stranger = number("310101", "19600101", "031")
    refused("not_insured_in_region", member_add, network=shanghai, id_number=stranger, relation="parent",
            actor="t", now=DEC)
    cancelled = enrolled("310101", "19600101", "041", year=2025, status="cancelled",
                         cancelled_at=at(2024, 11, 20), cancel_reason="本人申请")
    refused("not_insured_in_region", member_add, network=shanghai, id_number=cancelled.id_number,
            relation="parent", actor="t", now=DEC)
    employed = covered("310101", "19600101", "051", region="310000")
    member_add(network=shanghai, id_number=employed, relation="parent", actor="t", now=DEC)
    assert list(Participation.objects.filter(role="member").values_list("id_number", flat=True)) == [employed]


@pytest.mark.django_db
def test_organizer_cannot_be_member(shanghai):
    refused("organizer_cannot_be_member", member_add, network=shanghai, id_number=shanghai.organizer_id_number,
            relation="spouse", actor="t", now=DEC)
    other = employee("310101", "19820101", "021", hist="50.00", region="310000")
    network_create(organizer_id_number=other.id_number, actor="t", now=DEC)
    err = refused("organizer_cannot_be_member", member_add, network=shanghai, id_number=other.id_number,
                  relation="spouse", actor="t", now=DEC)
    assert "另一个家庭共济网的组建人" in err.message


@pytest.mark.django_db
def test_one_network_at_a_time_then_leave_and_join_another(shanghai):
    other = network_create(organizer_id_number=employee("310101", "19700101", "021", hist="10.00",
                                                        region="310000").id_number, actor="t", now=DEC)
    kid = enrolled("310101", "20150601", "031", year=2025)
    member_add(network=shanghai, id_number=kid.id_number, relation="child", actor="t", now=DEC)
    refused("already_in_network", member_add, network=other, id_number=kid.id_number, relation="grandchild",
            actor="t", now=DEC)
    refused("already_in_network", member_add, network=shanghai, id_number=kid.id_number, relation="child",
            actor="t", now=DEC)
    member_leave(network=shanghai, id_number=kid.id_number, actor="t", now=at(2024, 12, 11))
    member_add(network=other, id_number=kid.id_number, relation="grandchild", actor="t", now=at(2024, 12, 12))
    rows = list(Participation.objects.filter(id_number=kid.id_number).order_by("id")
                .values_list("network_id", "left_at"))
    assert rows == [(shanghai.pk, at(2024, 12, 11)), (other.pk, None)]
    refused("not_a_member", member_leave, network=shanghai, id_number=kid.id_number, actor="t", now=DEC)


@pytest.mark.django_db
def test_member_edit_within_the_relations(shanghai):
    kid = enrolled("310101", "20150601", "031", year=2025)
    member_add(network=shanghai, id_number=kid.id_number, relation="child", actor="t", now=DEC)
    member_edit(network=shanghai, id_number=kid.id_number, relation="grandchild", actor="t", now=DEC)
    assert Participation.objects.get(id_number=kid.id_number).relation == "grandchild"


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_adds_one_network_at_a_time(policies):
    n1 = network_create(organizer_id_number=employee("310101", "19800101", "011", hist="9.00",
                                                     region="310000").id_number, actor="t", now=DEC)
    n2 = network_create(organizer_id_number=employee("310101", "19810101", "021", hist="9.00",
                                                     region="310000").id_number, actor="t", now=DEC)
    kid = enrolled("310101", "20150601", "031", year=2025)
    inserted, release, results = threading.Event(), threading.Event(), {}

    def first():  # adds, then holds its transaction open while the second one tries
        try:
            with transaction.atomic():
                member_add(network=n1.pk, id_number=kid.id_number, relation="child", actor="t", now=DEC)
                inserted.set()
                release.wait(10)
            results["first"] = "ok"
        finally:
            connections.close_all()

    def second():  # its pre-check sees nothing committed; the constraint decides
        inserted.wait(10)
        try:
            member_add(network=n2.pk, id_number=kid.id_number, relation="grandchild", actor="t", now=DEC)
            results["second"] = "ok"
        except PoolError as exc:
            results["second"] = exc.code
        finally:
            connections.close_all()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    time.sleep(0.5)
    release.set()
    for t in threads:
        t.join(15)
    assert results == {"first": "ok", "second": "already_in_network"}
    assert list(Participation.objects.filter(id_number=kid.id_number).values_list("network_id", "left_at")) == [
        (n1.pk, None)]

    # and two at once, neither held: exactly one wins
    other = enrolled("310101", "20160601", "041", year=2025)
    barrier, codes = threading.Barrier(2), []

    def add(network):
        barrier.wait(5)
        try:
            member_add(network=network.pk, id_number=other.id_number, relation="child", actor="t", now=DEC)
            codes.append("ok")
        except PoolError as exc:
            codes.append(exc.code)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=add, args=(n,)) for n in (n1, n2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(15)
    assert sorted(codes) == ["already_in_network", "ok"]
    assert Participation.objects.filter(id_number=other.id_number, left_at__isnull=True).count() == 1


# --- modes and deadlines ----------------------------------------------------------------

def _premium_on(network, now=DEC):
    return modes_set(network=network, medical=False, premium=True, actor="t", now=now)


@pytest.mark.django_db
@pytest.mark.parametrize("when,ok", [(at(2024, 12, 20, 16, 59), True), (at(2024, 12, 20, 17, 0), False),
                                     (at(2024, 12, 22, 9), False)])
def test_school_child_cancel_by_12_20_17_00(shanghai, when, ok):
    kid = enrolled("310101", "20150601", "031", year=2025, via="school", registered_at=at(2024, 11, 5))
    member_add(network=shanghai, id_number=kid.id_number, relation="child", actor="t", now=DEC)
    _premium_on(shanghai)
    if ok:
        modes_set(network=shanghai, medical=False, premium=False, actor="t", now=when)
    else:
        err = refused("cutoff_passed", modes_set, network=shanghai, medical=False, premium=False, actor="t", now=when)
        assert "2024-12-20 17:00" in err.message
    n = Network.objects.get(pk=shanghai.pk)
    assert n.premium_mode is (not ok)
    assert list(ModeChange.objects.filter(network=n).values_list("premium_mode", "changed_at")) == (
        [(True, DEC), (False, when)] if ok else [(True, DEC)])


@pytest.mark.django_db
@pytest.mark.parametrize("when,ok", [(at(2024, 12, 3, 23, 59), True), (at(2024, 12, 4, 0, 0), False),
                                     (at(2024, 12, 15, 9), False)])
def test_community_child_cancel_on_the_day_of_registration(shanghai, when, ok):
    kid = enrolled("310101", "20150601", "031", year=2025, via="community", registered_at=at(2024, 12, 3, 9))
    member_add(network=shanghai, id_number=kid.id_number, relation="child", actor="t", now=at(2024, 12, 3, 10))
    _premium_on(shanghai, at(2024, 12, 3, 11))
    if ok:
        modes_set(network=shanghai, medical=True, premium=False, actor="t", now=when)
        assert (Network.objects.get(pk=shanghai.pk).medical_mode, ModeChange.objects.count()) == (True, 2)
    else:
        err = refused("cutoff_passed", modes_set, network=shanghai, medical=False, premium=False, actor="t", now=when)
        assert "2024-12-04 00:00" in err.message
        assert (Network.objects.get(pk=shanghai.pk).premium_mode, ModeChange.objects.count()) == (True, 1)


@pytest.mark.django_db
def test_the_deadline_reads_the_childs_registration_of_the_year_in_hand_not_the_one_at_joining(shanghai):
    """A community child registered on 2024-12-03 for 2025 joins; a year later (rules of 2026,
    no 2026 registration yet) that day no longer binds: the 2026 cut-off (2025-12-20 17:00)
    does.  Registered for 2026 at a community centre on 2025-12-05, the end of that day binds."""
    from enrollment.tests.support import clone
    clone("310000", 2025, 2026)
    kid = enrolled("310101", "20150601", "031", year=2025, via="community", registered_at=at(2024, 12, 3, 9))
    member_add(network=shanghai, id_number=kid.id_number, relation="child", actor="t", now=at(2024, 12, 3, 10))
    _premium_on(shanghai, at(2024, 12, 3, 11))
    refused("cutoff_passed", modes_set, network=shanghai, medical=False, premium=False, actor="t",
            now=at(2024, 12, 4, 9))
    assert organizer_view(shanghai, now=at(2024, 12, 4, 9))["members"][0]["registered_on"] == "2024-12-03"

    modes_set(network=shanghai, medical=False, premium=False, actor="t", now=at(2025, 6, 1))
    assert Network.objects.get(pk=shanghai.pk).premium_mode is False
    view = organizer_view(shanghai, now=at(2025, 6, 1))["members"][0]
    assert (view["registered_via"], view["registered_on"]) == (None, None)  # nothing for 2026 yet
    _premium_on(shanghai, at(2025, 6, 2))

    from enrollment.models import Enrollment
    Enrollment.objects.create(resident=kid, year=2026, region_id="310000", category="student", status="registered",
                              registered_via="community", registered_at=at(2025, 12, 5, 9),
                              amount_due=Enrollment.objects.get(resident=kid, year=2025).amount_due)
    err = refused("cutoff_passed", modes_set, network=shanghai, medical=False, premium=False, actor="t",
                  now=at(2025, 12, 6, 9))
    assert "2025-12-06 00:00" in err.message
    view = organizer_view(shanghai, now=at(2025, 12, 6, 9))["members"][0]
    assert (view["registered_via"], view["registered_on"]) == ("community", "2025-12-05")
    assert Network.objects.get(pk=shanghai.pk).premium_mode is True


@pytest.mark.django_db
def test_a_relation_corrected_to_child_brings_the_childs_deadline(shanghai):
    kid = enrolled("310101", "20150601", "031", year=2025, via="community", registered_at=at(2024, 12, 3, 9))
    member_add(network=shanghai, id_number=kid.id_number, relation="sibling", actor="t", now=at(2024, 12, 3, 10))
    _premium_on(shanghai, at(2024, 12, 3, 11))
    member_edit(network=shanghai, id_number=kid.id_number, relation="child", actor="t", now=at(2024, 12, 4, 8))
    err = refused("cutoff_passed", modes_set, network=shanghai, medical=False, premium=False, actor="t",
                  now=at(2024, 12, 4, 9))
    assert "2024-12-04 00:00" in err.message
    view = organizer_view(shanghai, now=at(2024, 12, 4, 9))["members"][0]
    assert (view["relation"], view["registered_via"], view["registered_on"]) == ("child", "community", "2024-12-03")
    # back to a sibling: no child, the region's cut-off (2024-12-20 17:00) is ahead
    member_edit(network=shanghai, id_number=kid.id_number, relation="sibling", actor="t", now=at(2024, 12, 5))
    modes_set(network=shanghai, medical=False, premium=False, actor="t", now=at(2024, 12, 5, 9))
    assert Network.objects.get(pk=shanghai.pk).premium_mode is False


@pytest.mark.django_db
def test_no_child_uses_the_region_cutoff_and_online_children_too(shanghai):
    kid = enrolled("310101", "20150601", "031", year=2025, via="online", registered_at=at(2024, 12, 1))
    member_add(network=shanghai, id_number=kid.id_number, relation="child", actor="t", now=DEC)
    _premium_on(shanghai)
    modes_set(network=shanghai, medical=False, premium=False, actor="t", now=at(2024, 12, 19))
    _premium_on(shanghai, at(2024, 12, 19, 12))
    refused("cutoff_passed", modes_set, network=shanghai, medical=False, premium=False, actor="t",
            now=at(2024, 12, 20, 17, 0))
    # turning premium on after the cut-off is not refused; the same modes again change nothing
    assert ModeChange.objects.count() == 3
    modes_set(network=shanghai, medical=False, premium=True, actor="t", now=at(2024, 12, 21))
    assert ModeChange.objects.count() == 3


@pytest.mark.django_db
def test_only_the_modes_the_policy_offers():
    acc = employee("330203", "19800101", "011", region="330200", hist="500.00")
    n = network_create(organizer_id_number=acc.id_number, actor="t", now=at(2025, 11, 1))
    err = refused("mode_not_allowed", modes_set, network=n, medical=True, premium=False, actor="t",
                  now=at(2025, 11, 1))
    assert err.message == "宁波市的家庭共济不提供共济支付（医疗费用）"
    modes_set(network=n, medical=False, premium=True, actor="t", now=at(2025, 11, 1))
    assert list(ModeChange.objects.values_list("medical_mode", "premium_mode", "actor")) == [(False, True, "t")]


# --- dissolve and the views -------------------------------------------------------------

@pytest.mark.django_db
def test_dissolve_ends_every_participation(shanghai):
    kid = enrolled("310101", "20150601", "031", year=2025)
    member_add(network=shanghai, id_number=kid.id_number, relation="child", actor="t", now=DEC)
    network_dissolve(network=shanghai, actor="t", now=at(2024, 12, 11))
    n = Network.objects.get(pk=shanghai.pk)
    assert (n.status, n.dissolved_at) == ("dissolved", at(2024, 12, 11))
    assert set(Participation.objects.values_list("left_at", flat=True)) == {at(2024, 12, 11)}
    refused("network_dissolved", member_add, network=shanghai, id_number=kid.id_number, relation="child",
            actor="t", now=DEC)
    again = network_create(organizer_id_number=shanghai.organizer_id_number, actor="t", now=at(2024, 12, 12))
    assert again.pk != shanghai.pk


@pytest.mark.django_db
def test_a_member_sees_the_organizer_and_self_only(shanghai):
    kid = enrolled("310101", "20150601", "031", name="张小", year=2025)
    wife = enrolled("310101", "19820101", "042", name="李妻", year=2025)
    member_add(network=shanghai, id_number=kid.id_number, relation="child", actor="t", now=DEC)
    member_add(network=shanghai, id_number=wife.id_number, relation="spouse", actor="t", now=DEC)
    view = membership_view(kid.id_number)
    org = shanghai.organizer_id_number
    assert view["organizer"] == {"name": "张组建", "id_number": org[:6] + "********" + org[-4:]}
    assert view["self"]["id_number"] == kid.id_number and view["self"]["relation"] == "child"
    assert wife.id_number not in repr(view) and "李妻" not in repr(view)
    assert set(view) == {"network_id", "region", "organizer", "self", "modes"}
    full = organizer_view(Network.objects.get(pk=shanghai.pk))
    assert [m["name"] for m in full["members"]] == ["张小", "李妻"]
    assert full["pool_balance"] == "2000.00"
    assert membership_view(org) is None  # the organizer is not a member
    assert_ledger_balanced()


# --- the admin --------------------------------------------------------------------------

@pytest.mark.django_db
def test_admin_pages_region_scoped_read_only(client, shanghai):
    from django.contrib.auth import get_user_model

    from enrollment.tests.support import caseworker
    from family_pool.models import AccountEntry, EmployeeAccount

    kid = enrolled("310101", "20150601", "031", name="张小", year=2025)
    member_add(network=shanghai, id_number=kid.id_number, relation="child", actor="t", now=DEC)
    _premium_on(shanghai, at(2024, 12, 10, 11, 5))
    admin_user = get_user_model().objects.create_superuser("root", password="Correct-horse-42")
    client.force_login(admin_user)
    for url in ("/admin/family_pool/employeeaccount/", "/admin/family_pool/accountentry/",
                "/admin/family_pool/network/", "/admin/family_pool/medicalsettlement/",
                f"/admin/family_pool/network/{shanghai.pk}/change/",
                f"/admin/family_pool/employeeaccount/{shanghai.account_id}/change/"):
        assert client.get(url).status_code == 200, url
    page = client.get(f"/admin/family_pool/network/{shanghai.pk}/change/").content.decode()
    assert "张小" in page and "共济方式变更记录" in page
    assert "2024-12-10 11:05 改为：共济缴费" in page and "ModeChange object" not in page
    assert "加入时的登记方式" in page and "社区登记" in page
    assert kid.id_number not in page  # masked in the inline
    assert client.get("/admin/family_pool/employeeaccount/add/").status_code == 403
    assert client.post(f"/admin/family_pool/network/{shanghai.pk}/delete/").status_code == 403

    ningbo = caseworker("cw330", "330200")
    client.force_login(ningbo)
    assert client.get(f"/admin/family_pool/network/{shanghai.pk}/change/").status_code in (302, 404)
    assert "张组建" not in client.get("/admin/family_pool/network/").content.decode()
    assert "张组建" not in client.get("/admin/family_pool/employeeaccount/").content.decode()
    shanghai_cw = caseworker("cw310", "310000")
    client.force_login(shanghai_cw)
    assert "张组建" in client.get("/admin/family_pool/network/").content.decode()
    # 解散 through the service
    resp = client.post("/admin/family_pool/network/", {"action": "dissolve", "_selected_action": [shanghai.pk]})
    assert resp.status_code == 302
    assert Network.objects.get(pk=shanghai.pk).status == "dissolved"
    assert EmployeeAccount.objects.count() == 1 and AccountEntry.objects.count() == 1


# --- the rules --------------------------------------------------------------------------

@pytest.mark.django_db
def test_pool_rules_from_the_published_policy_year():
    from datetime import date

    from family_pool.rules import PoolRulesMissing, pool_rules, rules_for

    r = pool_rules("310000", 2025)
    assert (r.region_code, r.year, r.organizer_scope, r.medical_payment, r.premium_payment) == (
        "310000", 2025, "region", True, True)
    assert (r.premium_cutoff, r.school_cancel_deadline) == (at(2024, 12, 20, 17), at(2024, 12, 20, 17))
    assert (r.batch_starts_on, r.results_on, r.certificate_working_days, r.community_cancel_same_day) == (
        date(2024, 12, 21), date(2024, 12, 28), 10, True)
    assert pool_rules("630100", 2025).relations == ("spouse", "parent", "child")
    x = pool_rules("141181", 2026)  # 孝义 runs 吕梁's policy
    assert (x.region_code, x.organizer_scope, x.province_prefix) == ("141100", "province", "14")
    assert pool_rules("330200", 2025).province_prefix == "33"
    with pytest.raises(PoolRulesMissing) as exc:
        pool_rules("330200", 2031)
    assert exc.value.message == "宁波市 2031 年度没有已发布的政策，无法办理家庭共济"
    with pytest.raises(PoolRulesMissing):
        pool_rules("440100", 2025)
    assert rules_for("310000", date(2024, 12, 10)).year == 2025
    assert rules_for("141100", date(2025, 12, 1)).year == 2026
