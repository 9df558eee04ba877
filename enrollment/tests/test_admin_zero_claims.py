"""The admin's 零报销年度 (issue 13): the list scoped to the user's regions, 导入零报销名单 (defaults
from the user's regions and the business date, a preview that writes nothing, the confirmation
as a background run with its counts), and 更正 / 撤销 with a reason — the database read after."""

from __future__ import annotations

from datetime import date

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from core import batch
from core.models import BatchRun
from enrollment.models import ZeroClaimYear
from enrollment.zero_claims import zero_claim_record

from .import_support import csv_bytes
from .support import caseworker, paid_row, person

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("policies")]

TODAY = date(2026, 11, 30)
LIST = "/admin/enrollment/zeroclaimyear/"
IMPORT = LIST + "import/"
REGION_ERROR = "选择一个有效的选项。 630100 不在可用的选项中。"


@pytest.fixture(autouse=True)
def _business_date(settings, tmp_path):
    settings.BUSINESS_DATE = TODAY
    settings.MEDIA_ROOT = str(tmp_path / "media")


@pytest.fixture
def sh():
    qian = person("310101", "19800501", "011", name="钱零报", today=TODAY)
    sun = person("310101", "19810601", "022", name="孙二", today=TODAY)
    wu = person("630102", "19830801", "044", name="吴西宁", today=TODAY)
    for r in (qian, sun, wu):
        paid_row(r, 2025)
    paid_row(qian, 2024)
    return {"钱": qian, "孙": sun, "吴": wu}


def upload(rows, name="零报销.csv"):
    return SimpleUploadedFile(name, csv_bytes(rows, header=["身份证号码", "姓名", "年度"]), content_type="text/csv")


def test_the_import_page_defaults_previews_and_confirms(client, sh):
    user = caseworker("cw310", "310000")
    client.force_login(user)
    page = client.get(LIST).content.decode()
    assert "导入零报销名单" in page
    form = client.get(IMPORT).context["form"]
    assert (form.initial["region"], form.initial["year"]) == ("310000", 2025)
    assert [c for c, _ in form.fields["region"].choices] == ["310000"]

    rows = [[sh["钱"].id_number, "钱零报", "2025"], [sh["孙"].id_number, "孙二", ""]]
    resp = client.post(IMPORT, {"region": "310000", "year": "2025", "import_file": upload(rows)})
    preview = resp.context["preview"]
    assert (preview["result"].created, preview["invalid_rows"], preview["new_count"]) == (2, 0, 2)
    assert not ZeroClaimYear.objects.exists()  # a preview writes nothing
    html = resp.content.decode()
    assert "确认导入" in html and sh["钱"].id_number not in html

    resp = client.post(IMPORT + "confirm/", {"token": preview["token"]})
    run = BatchRun.objects.get(kind="import_zero_claims")
    assert resp.status_code == 302 and resp["Location"] == f"/admin/core/batchrun/{run.pk}/change/"
    assert run.params["options"] == {"region": "310000", "year": 2025}
    batch.run_inline(run)
    run.refresh_from_db()
    assert (run.status, run.summary) == ("done", {"rows": 2, "created": 2, "unchanged": 0, "repriced": 0,
                                                  "invalid_rows": 0, "rejected": False})
    assert sorted(ZeroClaimYear.objects.values_list("resident__name", "year", "recorded_by_id")) == [
        ("孙二", 2025, user.pk), ("钱零报", 2025, user.pk)]
    page = client.get(f"/admin/core/batchrun/{run.pk}/change/").content.decode()
    assert "导入零报销名单" in page and "新登记零报销年度" in page


def test_a_faulty_list_is_shown_in_chinese_and_cannot_be_confirmed(client, sh):
    client.force_login(caseworker("cw310", "310000"))
    rows = [[sh["钱"].id_number, "钱零报", "2025"], [sh["吴"].id_number, "吴西宁", "2025"]]
    resp = client.post(IMPORT, {"region": "310000", "year": "2025", "import_file": upload(rows)})
    preview = resp.context["preview"]
    assert preview["token"] is None
    assert preview["error_lines"] == ["第 3 行 身份证号码：身份证号码已由其他经办地区登记，请联系该地区经办机构或上级"]
    assert "整份名单不会导入" in resp.content.decode()
    # 跳过错误行: the good row can be confirmed
    resp = client.post(IMPORT, {"region": "310000", "year": "2025", "skip_invalid": "on",
                                "import_file": upload(rows)})
    assert resp.context["preview"]["token"] and resp.context["preview"]["result"].created == 1


def test_the_form_refuses_another_region_and_a_year_not_ended(client, sh):
    client.force_login(caseworker("cw310", "310000"))
    resp = client.post(IMPORT, {"region": "630100", "year": "2026", "import_file": upload([])})
    form = resp.context["form"]
    assert form.errors["region"] == [REGION_ERROR]
    assert form.errors["year"] == ["2026 年度尚未结束（今天是 2026-11-30），不能登记为零报销年度"]
    assert not BatchRun.objects.exists()


def test_the_list_and_the_pages_are_scoped_to_the_users_regions(client, sh):
    mine = zero_claim_record(resident=sh["钱"], year=2025, source="名单", actor=None, today=TODAY)
    theirs = zero_claim_record(resident=sh["吴"], year=2025, source="名单", actor=None, today=TODAY)
    client.force_login(caseworker("cw310", "310000"))
    listed = client.get(LIST).context["cl"].result_list
    assert [r.pk for r in listed] == [mine.pk]
    assert client.get(f"{LIST}{theirs.pk}/correct/").status_code == 404
    assert client.post(f"{LIST}{theirs.pk}/withdraw/", {"reason": "x"}).status_code == 404
    assert ZeroClaimYear.objects.filter(pk=theirs.pk).exists()


def test_correct_and_withdraw_in_the_admin(client, sh):
    user = caseworker("cw310", "310000")
    client.force_login(user)
    row = zero_claim_record(resident=sh["钱"], year=2025, source="名单", actor=None, today=TODAY)
    page = client.get(f"/admin/enrollment/resident/{sh['钱'].pk}/change/").content.decode()
    assert f'href="{LIST}{row.pk}/correct/"' in page and f'href="{LIST}{row.pk}/withdraw/"' in page

    # no reason: refused in words, nothing changed
    resp = client.post(f"{LIST}{row.pk}/correct/", {"year": "2024", "source": "2024 名单", "reason": ""})
    assert resp.status_code == 200 and resp.context["form"].errors["reason"]
    resp = client.post(f"{LIST}{row.pk}/correct/", {"year": "2023", "source": "名单", "reason": "录错"})
    assert "钱零报 2023 年度未在本市缴费参保，不能登记为零报销年度" in resp.content.decode()
    assert ZeroClaimYear.objects.values_list("year", "change_reason").get() == (2025, "")

    resp = client.post(f"{LIST}{row.pk}/correct/", {"year": "2024", "source": "2024 名单", "reason": "年度录错"})
    assert resp.status_code == 302
    assert ZeroClaimYear.objects.values_list("year", "source", "change_reason").get() == (2024, "2024 名单", "年度录错")
    event = ZeroClaimYear.pgh_event_model.objects.get(pgh_label="update")
    assert (event.pgh_context.metadata["action"], event.pgh_context.metadata["user"]) == ("zero_claim_correct", user.pk)

    resp = client.post(f"{LIST}{row.pk}/withdraw/", {"reason": ""})
    assert resp.status_code == 200 and ZeroClaimYear.objects.exists()
    resp = client.post(f"{LIST}{row.pk}/withdraw/", {"reason": "结算系统更正"})
    assert resp.status_code == 302
    assert not ZeroClaimYear.objects.exists()
    last = ZeroClaimYear.pgh_event_model.objects.order_by("pgh_id").last()
    assert (last.pgh_label, last.change_reason, last.pgh_context.metadata["action"]) == (
        "delete", "结算系统更正", "zero_claim_withdraw")


def test_an_auditor_sees_the_list_but_cannot_import_correct_or_withdraw(client, sh):
    from .support import auditor

    row = zero_claim_record(resident=sh["钱"], year=2025, source="名单", actor=None, today=TODAY)
    client.force_login(auditor())
    assert client.get(LIST).status_code == 200
    assert client.get(IMPORT).status_code == 403
    assert client.post(f"{LIST}{row.pk}/withdraw/", {"reason": "x"}).status_code == 403
    assert ZeroClaimYear.objects.count() == 1
