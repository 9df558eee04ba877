"""The roster screens in the admin: 资助身份, the import page (upload → preview → confirm
in the background), 名单导入记录, 资助部分应退 and the identities on the resident page —
as caseworkers of Lüliang and of Ningbo."""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import TestCase
from django.urls import reverse

from core.models import BatchRun
from enrollment import idnumbers
from enrollment.import_jobs import upload_dir
from enrollment.tests.support import caseworker, msgs, number, person
from subsidies.admin import UPLOADS
from subsidies.forms import default_year
from subsidies.models import AssistanceIdentity, OwedRefund, RosterChange, RosterImport
from subsidies.roster import import_roster

pytestmark = pytest.mark.usefixtures("policies")

HEADER = ["姓名", "身份证号码", "困难类别", "认定部门", "认定日期"]
NOV = date(2025, 11, 10)  # Lüliang's 2026 window is open (2025-10-21 … 2026-02-25)
IMPORT_URL = "/admin/subsidies/assistanceidentity/import/"
CONFIRM_URL = "/admin/subsidies/assistanceidentity/import/confirm/"
LIST_URL = "/admin/subsidies/assistanceidentity/"


@pytest.fixture(autouse=True)
def _business_date_and_media(settings, tmp_path):
    settings.BUSINESS_DATE = NOV
    settings.MEDIA_ROOT = str(tmp_path / "media")


@pytest.fixture(autouse=True)
def _eager_workers():
    """The confirmed import runs on a worker: here the tasks run in the test's process."""
    from config.celery import app

    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


def roster(rows, header=HEADER) -> bytes:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(header)
    w.writerows(rows)
    return out.getvalue().encode("utf-8")


@pytest.fixture
def ll_client(client, db):
    client.force_login(caseworker("ll_worker", "141100"))
    return client


@pytest.fixture
def people(db):
    li = person("141102", "19800501", name="李四")
    return {"li": li, "stranger": number("141102", "19700101", "011"),
            "wang": person("141102", "19750301", "021", name="王五")}


def preview(client, rows, *, region="141100", year=2026, skip=False, name="名单.csv", data=None):
    post = {"import_file": SimpleUploadedFile(name, data if data is not None else roster(rows)),
            "region": region, "year": str(year)}
    if skip:
        post["skip_invalid"] = "on"
    return client.post(IMPORT_URL, post)


def confirm(client, response):
    token = response.context["preview"]["token"]
    assert token
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client.post(CONFIRM_URL, {"token": token}, follow=True)


def stored_files() -> list[Path]:
    folder = upload_dir()
    return sorted(folder.iterdir())


# --- 资助身份: the list --------------------------------------------------------------


def test_identity_list_shows_matched_and_pending_in_chinese_with_masked_ids(ll_client, people):
    li, stranger = people["li"], people["stranger"]
    import_roster(roster([["李四", li.id_number, "低保对象", "吕梁市民政局", "2025-06-01"],
                          ["赵六", stranger, "特困人员", "民政局", "2025-05-01"]]), "名单.csv",
                  region="141100", year=2026, today=NOV, actor="test")
    response = ll_client.get(LIST_URL)
    assert response.status_code == 200
    body = response.content.decode()
    assert idnumbers.mask(li.id_number) in body and li.id_number not in body
    assert "已匹配参保人" in body and "待登记" in body and "有效" in body
    assert "最低生活保障" in body or "低保" in body
    assert "民政部门" in body
    # the matched / pending filter
    matched = ll_client.get(LIST_URL, {"matched": "yes"})
    assert [o.id_number for o in matched.context["cl"].result_list] == [li.id_number]
    pending = ll_client.get(LIST_URL, {"matched": "no"})
    assert [o.id_number for o in pending.context["cl"].result_list] == [stranger]
    # search: the full number exactly, or the start of a name
    found = ll_client.get(LIST_URL, {"q": stranger})
    assert [o.name for o in found.context["cl"].result_list] == ["赵六"]
    found = ll_client.get(LIST_URL, {"q": "李"})
    assert [o.name for o in found.context["cl"].result_list] == ["李四"]
    assert ll_client.get(LIST_URL, {"q": stranger[:10]}).context["cl"].result_count == 0
    by_match = ll_client.get(LIST_URL, {"o": "-8"})  # 匹配状态 sorts: matched first
    assert [o.id_number for o in by_match.context["cl"].result_list] == [li.id_number, stranger]


def test_a_county_resident_matches_the_citys_identity(ll_client, db):
    xiaoyi = person("141181", "19800501", name="孙七")  # 孝义 runs 吕梁's policy
    import_roster(roster([["孙七", xiaoyi.id_number, "低保", "民政局", "2025-06-01"]]), "名单.csv",
                  region="141100", year=2026, today=NOV, actor="test")
    response = ll_client.get(LIST_URL, {"matched": "yes"})
    assert [o.id_number for o in response.context["cl"].result_list] == [xiaoyi.id_number]


def test_a_ningbo_caseworker_sees_no_luliang_identity_and_cannot_import_for_luliang(client, people):
    import_roster(roster([["李四", people["li"].id_number, "低保", "民政局", "2025-06-01"]]), "名单.csv",
                  region="141100", year=2026, today=NOV, actor="test")
    identity = AssistanceIdentity.objects.get()
    imp = RosterImport.objects.get()
    client.force_login(caseworker("nb_worker", "330200"))
    assert client.get(LIST_URL).context["cl"].result_count == 0
    assert client.get(LIST_URL, {"q": people["li"].id_number}).context["cl"].result_count == 0
    assert client.get(f"{LIST_URL}{identity.pk}/change/").status_code == 404
    assert client.get("/admin/subsidies/rosterimport/").context["cl"].result_count == 0
    assert client.get(f"/admin/subsidies/rosterimport/{imp.pk}/change/").status_code == 404
    page = client.get(IMPORT_URL)
    assert [c for c, _ in page.context["form"].fields["region"].choices] == ["330200"]
    response = preview(client, [["王五", people["wang"].id_number, "特困人员", "民政局", "2025-08-01"]])
    assert response.status_code == 200 and response.context["preview"] is None
    assert "region" in response.context["form"].errors
    assert AssistanceIdentity.objects.count() == 1
    assert not stored_files()
    assert not BatchRun.objects.exists()


def test_nothing_is_added_changed_or_deleted_from_the_screens(ll_client, people):
    import_roster(roster([["李四", people["li"].id_number, "低保", "民政局", "2025-06-01"]]), "名单.csv",
                  region="141100", year=2026, today=NOV, actor="test")
    identity = AssistanceIdentity.objects.get()
    imp = RosterImport.objects.get()
    for base, pk in ((LIST_URL, identity.pk), ("/admin/subsidies/rosterimport/", imp.pk),
                     ("/admin/subsidies/owedrefund/", None)):
        page = ll_client.get(base)
        assert page.status_code == 200
        assert "delete_selected" not in page.content.decode()
        assert ll_client.get(f"{base}add/").status_code == 403
        if pk is not None:
            assert ll_client.get(f"{base}{pk}/delete/").status_code == 403
            assert ll_client.post(f"{base}{pk}/change/", {"name": "改名"}).status_code == 403
    from django.contrib import admin as django_admin

    request = ll_client.get(LIST_URL).wsgi_request
    for model in (AssistanceIdentity, RosterImport, OwedRefund):
        model_admin = django_admin.site._registry[model]
        assert not model_admin.has_delete_permission(request)
        assert not model_admin.has_add_permission(request)
        assert not model_admin.has_change_permission(request)
    identity.refresh_from_db()
    assert identity.name == "李四" and AssistanceIdentity.objects.count() == 1


def test_an_auditor_reads_every_region_but_cannot_import(client, people):
    from enrollment.tests.support import auditor

    import_roster(roster([["李四", people["li"].id_number, "低保", "民政局", "2025-06-01"]]), "名单.csv",
                  region="141100", year=2026, today=NOV, actor="test")
    client.force_login(auditor())
    listing = client.get(LIST_URL)
    assert listing.context["cl"].result_count == 1
    assert people["li"].id_number in listing.content.decode()  # auditors may see full numbers
    assert "导入名单" not in listing.content.decode()
    assert client.get(IMPORT_URL).status_code == 403
    assert client.post(CONFIRM_URL, {"token": "0" * 32}).status_code == 403


# --- the import page -------------------------------------------------------------------


def test_the_import_page_defaults_to_the_users_region_and_the_year_whose_window_is_open(ll_client):
    page = ll_client.get(IMPORT_URL)
    assert page.status_code == 200
    form = page.context["form"]
    assert form.initial["region"] == "141100" and form.initial["year"] == 2026
    assert default_year("141100", date(2026, 3, 1)) == 2026  # the 2027 window is not open
    assert "导入名单" in ll_client.get(LIST_URL).content.decode()


def test_preview_of_a_reimport_shows_the_difference_and_writes_nothing(ll_client, people):
    li, wang, stranger = people["li"], people["wang"], people["stranger"]
    import_roster(roster([["李四", li.id_number, "低保", "民政局", "2025-06-01"],
                          ["王五", wang.id_number, "特困人员", "民政局", "2025-05-01"]]), "名单.csv",
                  region="141100", year=2026, today=NOV, actor="test")
    before = list(AssistanceIdentity.objects.values_list("id_number", "identity", "removed_at"))
    response = preview(ll_client, [["李四", li.id_number, "低保", "民政局", "2025-06-01"],
                                   ["赵六", stranger, "特困人员", "民政局", "2025-07-01"]])
    assert response.status_code == 200
    shown = response.context["preview"]
    r = shown["result"]
    assert (r.new, r.updated, r.unchanged, r.removed, r.pending) == (1, 0, 1, 1, 1)
    body = response.content.decode()
    assert "新增（1 人次）" in body and "无变化（1 人次）" in body and "移出（1 人次" in body
    assert idnumbers.mask(wang.id_number) in body and wang.id_number not in body
    assert idnumbers.mask(stranger) in body and stranger not in body
    assert "确认导入" in body and "Traceback" not in body
    assert sorted(AssistanceIdentity.objects.values_list("id_number", "identity", "removed_at")) == sorted(before)
    assert RosterImport.objects.count() == 1
    # the file waits under the token's name, readable by the server only
    token = shown["token"]
    assert len(token) == 32 and (upload_dir() / token).exists()
    assert oct((upload_dir() / token).stat().st_mode & 0o777) == "0o600"
    assert token in ll_client.session[UPLOADS.session_key]


def test_confirm_starts_the_background_import_and_the_identities_land(ll_client, people):
    li, stranger = people["li"], people["stranger"]
    response = preview(ll_client, [["李四", li.id_number, "低保", "民政局", "2025-06-01"],
                                   ["赵六", stranger, "特困人员", "民政局", "2025-07-01"]])
    token = response.context["preview"]["token"]
    done = confirm(ll_client, response)
    run = BatchRun.objects.get()
    assert run.kind == "import_roster"
    assert run.params["options"] == {"region": "141100", "year": 2026}
    assert done.redirect_chain[-1][0] == reverse("admin:core_batchrun_change", args=[run.pk])
    assert msgs(done)[:1] == [f"已提交后台导入（批处理任务 #{run.pk}），本页显示进度与结果"]
    run.refresh_from_db()
    assert run.status == BatchRun.Status.DONE
    assert run.summary["new"] == 2 and run.summary["pending"] == 1 and not run.summary["rejected"]
    assert sorted(AssistanceIdentity.objects.values_list("id_number", "identity", "region_id", "year")) == sorted(
        [(li.id_number, "dibao", "141100", 2026), (stranger, "tekun", "141100", 2026)])
    imp = RosterImport.objects.get()
    assert imp.run_id == run.pk and imp.file_name == "名单.csv" and (imp.new, imp.pending) == (2, 1)
    assert not (upload_dir() / token).exists()
    assert token not in ll_client.session.get(UPLOADS.session_key, {})
    # the same token again: nothing more
    again = ll_client.post(CONFIRM_URL, {"token": token}, follow=True)
    assert "导入未执行：预览已失效，请重新上传名单" in msgs(again)
    assert BatchRun.objects.count() == 1


def test_a_token_not_of_this_session_or_not_hex_starts_nothing(client, ll_client, people):
    response = preview(ll_client, [["李四", people["li"].id_number, "低保", "民政局", "2025-06-01"]])
    token = response.context["preview"]["token"]
    other = caseworker("ll_other", "141100")
    client.force_login(other)  # a colleague of the same region, another session
    from django.test import Client

    colleague = Client()
    colleague.force_login(other)
    for bad in (token, "../" + token, token.upper(), "x" * 32, ""):
        answer = colleague.post(CONFIRM_URL, {"token": bad}, follow=True)
        assert "导入未执行：预览已失效，请重新上传名单" in msgs(answer)
    assert not BatchRun.objects.exists() and not AssistanceIdentity.objects.exists()
    assert (upload_dir() / token).exists()  # still the uploader's to confirm


@pytest.mark.parametrize("name,data,expected", [
    ("名单.csv", "姓名,身份证号码,困难类别,认定部门\n李四,1,低保,民政局\n".encode(), "认定日期"),
    ("名单.xlsx", b"this is not a spreadsheet", "文件无法导入"),
    ("名单.csv", roster([]), "没有数据行"),
])
def test_a_file_that_cannot_be_read_is_a_message_on_the_form_and_nothing_is_written(ll_client, name, data,
                                                                                      expected):
    response = preview(ll_client, [], name=name, data=data)
    assert response.status_code == 200 and response.context["preview"] is None
    errors = response.context["form"].errors["import_file"]
    assert any(expected in e for e in errors) and all(e.startswith("文件无法导入：") for e in errors)
    assert "Traceback" not in response.content.decode()
    assert not AssistanceIdentity.objects.exists() and not RosterImport.objects.exists()
    assert not stored_files()


def test_faulty_rows_are_listed_in_chinese_and_the_roster_cannot_be_confirmed(ll_client, people):
    li = people["li"]
    bad = li.id_number[:-1] + ("0" if li.id_number[-1] != "0" else "1")
    response = preview(ll_client, [["李四", li.id_number, "低保", "民政局", "2025-06-01"],
                                   ["王五", bad, "低保", "民政局", "2025-06-01"],
                                   ["赵六", number("141102", "19700101", "011"), "外星人", "民政局", "2025-06-01"]])
    shown = response.context["preview"]
    assert shown["result"].rejected and shown["token"] is None
    lines = shown["error_lines"]
    assert any(line.startswith("第 3 行 身份证号码：") for line in lines)
    assert any(line.startswith("第 4 行 困难类别：无法识别的困难类别") for line in lines)
    body = response.content.decode()
    assert "整份名单不会导入" in body and "确认导入" not in body
    assert not stored_files()
    # skipping the faulty rows: the good one can be confirmed
    skipped = preview(ll_client, [["李四", li.id_number, "低保", "民政局", "2025-06-01"],
                                  ["王五", bad, "低保", "民政局", "2025-06-01"]], skip=True)
    assert skipped.context["preview"]["result"].new == 1
    confirm(ll_client, skipped)
    assert list(AssistanceIdentity.objects.values_list("id_number", flat=True)) == [li.id_number]


# --- 名单导入记录, 资助部分应退, the resident page -----------------------------------------


def test_the_import_record_shows_its_difference_with_masked_ids_and_its_run(ll_client, people):
    li, wang = people["li"], people["wang"]
    confirm(ll_client, preview(ll_client, [["李四", li.id_number, "低保", "民政局", "2025-06-01"]]))
    confirm(ll_client, preview(ll_client, [["王五", wang.id_number, "特困人员", "民政局", "2025-08-01"]]))
    listing = ll_client.get("/admin/subsidies/rosterimport/")
    assert listing.context["cl"].result_count == 2
    latest = RosterImport.objects.order_by("-id").first()
    page = ll_client.get(f"/admin/subsidies/rosterimport/{latest.pk}/change/")
    body = page.content.decode()
    assert page.status_code == 200
    assert "新增" in body and "移出" in body
    assert idnumbers.mask(li.id_number) in body and li.id_number not in body
    assert reverse("admin:core_batchrun_change", args=[latest.run_id]) in body
    assert sorted(RosterChange.objects.filter(roster=latest).values_list("change", flat=True)) == ["new", "removed"]


def test_owed_refunds_are_listed_for_the_users_regions_only(client, ll_client, people):
    from decimal import Decimal

    from enrollment.tests.support import register_and_pay

    li = people["li"]
    e = register_and_pay(li, 2026, NOV, NOV, "400.00")
    import_roster(roster([["李四", li.id_number, "低保", "民政局", "2025-06-01"]]), "名单.csv",
                  region="141100", year=2026, today=NOV, actor="test")
    owed = OwedRefund.objects.get(enrollment=e)
    assert owed.amount > Decimal("0")
    page = ll_client.get("/admin/subsidies/owedrefund/")
    assert page.context["cl"].result_count == 1
    body = page.content.decode()
    assert idnumbers.mask(li.id_number) in body and li.id_number not in body and "待退付" in body
    client.force_login(caseworker("nb_worker2", "330200"))
    assert client.get("/admin/subsidies/owedrefund/").context["cl"].result_count == 0
    assert client.get(f"/admin/subsidies/owedrefund/{owed.pk}/change/").status_code == 404


def test_the_resident_page_shows_the_persons_identities_active_and_removed(ll_client, people):
    li, wang = people["li"], people["wang"]
    confirm(ll_client, preview(ll_client, [["李四", li.id_number, "低保", "民政局", "2025-06-01"]]))
    confirm(ll_client, preview(ll_client, [["李四", li.id_number, "监测对象", "乡村振兴局", "2025-07-01"]]))
    confirm(ll_client, preview(ll_client, [["王五", wang.id_number, "特困人员", "民政局", "2025-08-01"]]))
    page = ll_client.get(f"/admin/enrollment/resident/{li.pk}/change/")
    body = page.content.decode()
    assert page.status_code == 200
    assert "资助身份（各认定部门名单）" in body
    assert "民政部门" in body and "乡村振兴部门" in body and "已移出" in body and "有效" in body
    assert "2025-06-01" in body and "2025-07-01" in body
    first = RosterImport.objects.filter(department="civil_affairs").order_by("id").first()
    assert reverse("admin:subsidies_rosterimport_change", args=[first.pk]) in body


def test_a_region_taken_from_the_caseworker_after_the_preview_cannot_be_confirmed(ll_client, people):
    from accounts.models import StaffRegion

    response = preview(ll_client, [["李四", people["li"].id_number, "低保", "民政局", "2025-06-01"]])
    token = response.context["preview"]["token"]
    user = response.wsgi_request.user
    StaffRegion.objects.filter(user=user).delete()
    StaffRegion.objects.create(user=user, region_id="330200")  # moved to Ningbo meanwhile
    assert ll_client.post(CONFIRM_URL, {"token": token}).status_code == 403
    assert not BatchRun.objects.exists() and not AssistanceIdentity.objects.exists()
