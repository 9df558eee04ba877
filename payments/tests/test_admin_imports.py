"""The admin's payment imports (upload → preview → background confirm) and 对账批次 pages."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import TestCase

from core.models import BatchRun
from enrollment.tests.support import caseworker, person, register
from payments.models import Payment, ReconciliationRun
from payments.services import ledger_check

from .test_api import NOV, carried
from .test_imports import csv_bytes

pytestmark = pytest.mark.usefixtures("policies")
PAY_URL = "/admin/payments/reconciliationrun/import-payments/"
DEPOSIT_URL = "/admin/payments/reconciliationrun/import-tax-deposits/"
RUNS_URL = "/admin/payments/reconciliationrun/"


@pytest.fixture(autouse=True)
def _business_date_and_media(settings, tmp_path):
    settings.BUSINESS_DATE = NOV
    settings.MEDIA_ROOT = str(tmp_path / "media")


@pytest.fixture(autouse=True)
def _eager_workers():
    from config.celery import app

    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


@pytest.fixture
def li(db):
    r = person("141102", "19800501", name="李四")
    carried(r, 2025)
    register(r, 2026, NOV)
    return r


@pytest.fixture
def ll_client(client, db):
    client.force_login(caseworker("ll_worker", "141100"))
    return client


def upload(client, url, data, name="f.csv", skip=False):
    post = {"import_file": SimpleUploadedFile(name, data)}
    if skip:
        post["skip_invalid"] = "on"
    return client.post(url, post)


def confirm(client, url, response):
    token = response.context["preview"]["token"]
    assert token
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client.post(url + "confirm/", {"token": token}, follow=True)


def test_payments_import_previews_then_lands_in_the_background(ll_client, li):
    rows = [["村委会代收", "V-1", li.id_number, "李四", 2026, "400.00", "2025-11-10 09:00", "城北村委会"]]
    response = upload(ll_client, PAY_URL, csv_bytes(rows))
    assert response.status_code == 200
    assert response.context["preview"]["counts"] == [("行数", 1), ("缴费入账", 1), ("无变化（此前已导入）", 0),
                                                     ("重复缴费（已列入退费）", 0), ("有错误的行", 0)]
    assert not Payment.objects.filter(channel="collective").exists()  # a preview writes nothing
    done = confirm(ll_client, PAY_URL, response)
    assert done.status_code == 200
    run = BatchRun.objects.get(kind="import_payments")
    assert (run.status, run.summary["paid"]) == ("done", 1)
    p = Payment.objects.get(channel="collective")
    assert (p.txn_id, p.payer_kind, p.payer_name, p.recorded_by.username) == ("V-1", "collector", "城北村委会",
                                                                              "ll_worker")
    assert ledger_check() == []


def test_a_faulty_payments_file_cannot_be_confirmed(ll_client, li):
    rows = [["微信", "W-1", li.id_number, "李四", 2026, "380.00", "2025-11-10 09:00", ""]]
    response = upload(ll_client, PAY_URL, csv_bytes(rows))
    preview = response.context["preview"]
    assert (preview["rejected"], preview["token"]) == (True, None)
    assert preview["error_lines"] == ["第 2 行 金额：应缴 400.00 元，实缴 380.00 元，金额不符"]
    assert "整份文件不会导入" in response.content.decode()


def test_a_caseworker_of_another_region_cannot_pay_for_luliang_people(client, li):
    client.force_login(caseworker("nb_worker", "330200"))
    rows = [["微信", "W-1", li.id_number, "李四", 2026, "400.00", "2025-11-10 09:00", ""]]
    preview = upload(client, PAY_URL, csv_bytes(rows)).context["preview"]
    assert preview["error_lines"] == ["第 2 行 身份证号码：身份证号码已由其他经办地区登记，请联系该地区经办机构或上级"]


def test_reconciliation_runs_in_chinese_scoped_to_the_users_regions(ll_client, client, li):
    rows = [["微信", "W-1", li.id_number, "李四", 2026, "400.00", "2025-11-10 09:00", ""]]
    confirm(ll_client, PAY_URL, upload(ll_client, PAY_URL, csv_bytes(rows)))
    header = ["入库日期", "交易流水号", "渠道", "身份证号码", "待遇年度", "金额"]
    deposits = [["2025-11-10", "W-1", "微信", li.id_number, 2026, "399.00"],
                ["2025-11-10", "W-2", "微信", li.id_number, 2026, "400.00"]]
    response = upload(ll_client, DEPOSIT_URL, csv_bytes(deposits, header))
    assert response.context["preview"]["counts"] == [("行数", 2), ("一致", 0), ("我方无缴费记录", 1),
                                                     ("税务无入库记录", 0), ("金额不符", 1), ("有错误的行", 0)]
    confirm(ll_client, DEPOSIT_URL, response)
    run = ReconciliationRun.objects.get()
    page = ll_client.get(RUNS_URL).content.decode()
    assert "导入税务入库记录（对账）" in page and "导入集中代收缴费" in page and "对账批次" in page
    detail = ll_client.get(f"{RUNS_URL}{run.pk}/change/").content.decode()
    for text in ("金额不符", "我方无缴费记录", "399.00 元", "400.00 元", "141102********", "W-2"):
        assert text in detail
    assert li.id_number not in detail  # masked
    client.force_login(caseworker("nb_worker", "330200"))
    assert client.get(f"{RUNS_URL}{run.pk}/change/").status_code in (302, 404)
    assert f"{RUNS_URL}{run.pk}/change/" not in client.get(RUNS_URL).content.decode()


def test_a_second_confirmation_while_the_first_import_runs_joins_it_and_keeps_no_stray_file(ll_client, li,
                                                                                            monkeypatch):
    from django.contrib.messages import get_messages

    from core.batch import get_job
    from enrollment.import_jobs import upload_dir

    # an import kind limited to one active run (payment imports run side by side; a kind with a
    # scope, as the pool batch has, is joined instead of started twice)
    monkeypatch.setattr(type(get_job("import_payments")), "scope", lambda self, params: "141100")

    rows = [["村委会代收", "V-1", li.id_number, "李四", 2026, "400.00", "2025-11-10 09:00", "城北村委会"]]
    first = upload(ll_client, PAY_URL, csv_bytes(rows))
    second = upload(ll_client, PAY_URL, csv_bytes(rows))
    deposits = upload(ll_client, DEPOSIT_URL, csv_bytes([["2025-11-10", "V-1", "村委会代收", li.id_number, 2026,
                                                          "400.00"]], ["入库日期", "交易流水号", "渠道", "身份证号码",
                                                                       "待遇年度", "金额"]))
    # no worker picks the first up (nothing is dispatched): it stays queued
    answer = ll_client.post(PAY_URL + "confirm/", {"token": first.context["preview"]["token"]})
    run = BatchRun.objects.get(kind="import_payments")
    assert (answer.status_code, answer["Location"], run.status) == (
        302, f"/admin/core/batchrun/{run.pk}/change/", "queued")
    assert {p.name for p in upload_dir().iterdir()} == {run.params["stored"], second.context["preview"]["token"],
                                                        deposits.context["preview"]["token"]}
    joined = ll_client.post(PAY_URL + "confirm/", {"token": second.context["preview"]["token"]})
    assert joined["Location"] == f"/admin/core/batchrun/{run.pk}/change/"
    assert [str(m) for m in get_messages(joined.wsgi_request)][-1] == (
        f"同类导入正在进行（批处理任务 #{run.pk}），本次未重复提交，请待其完成后再导入")
    assert BatchRun.objects.filter(kind="import_payments").count() == 1
    # the joined submit's own copy and the confirmed preview are gone; the run's file and the other page's stay
    assert {p.name for p in upload_dir().iterdir()} == {run.params["stored"], deposits.context["preview"]["token"]}
    # a preview of the other page is not confirmed here, and a used token is stale
    for token in (deposits.context["preview"]["token"], first.context["preview"]["token"]):
        stale = ll_client.post(PAY_URL + "confirm/", {"token": token}, follow=True)
        assert "导入未执行：预览已失效，请重新上传文件" in [str(m) for m in stale.context["messages"]]
    assert BatchRun.objects.count() == 1 and not Payment.objects.filter(channel="collective").exists()
