"""Employee accounts: the import (every change an entry, the same file a no-op, all-or-nothing),
account_check, the 30 June settlement."""

import json
from datetime import date
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command

from enrollment.tests.support import number
from family_pool.accounts import account_check, account_year_end, settle_accounts
from family_pool.models import AccountEntry, EmployeeAccount

from .pool_support import accounts, assert_ledger_balanced, csv, entries

pytestmark = pytest.mark.django_db

A = number("310101", "19800101", "011")
B = number("330203", "19790505", "021")
C = number("440103", "19850303", "031")  # Guangzhou: not one of our regions, still imported


def run_command(tmp_path, rows, *args):
    path = tmp_path / "accounts.csv"
    path.write_bytes(csv(rows))
    out, err = StringIO(), StringIO()
    code = 0
    try:
        call_command("import_employee_accounts", str(path), *args, stdout=out, stderr=err)
    except SystemExit as exc:
        code = exc.code
    return code, json.loads(out.getvalue()), err.getvalue()


ROWS = [("张甲", A, "310000", "1200.50", "300.00", "正常"),
        ("李乙", B, "330281", "0.00", "88.10", "冻结"),
        ("王丙", C, "440100", "10", "0", "正常")]


def test_import_creates_accounts_with_opening_entries(tmp_path):
    code, summary, err = run_command(tmp_path, ROWS)
    assert code == 0
    assert summary == {"rows": 3, "created": 3, "updated": 0, "unchanged": 0, "invalid_rows": 0, "rejected": False}
    a = EmployeeAccount.objects.get(id_number=A)
    assert (a.name, a.insured_region, a.historical_balance, a.current_balance, a.status) == (
        "张甲", "310000", Decimal("1200.50"), Decimal("300.00"), "normal")
    assert entries(a) == [("historical", "import", Decimal("1200.50")), ("current", "import", Decimal("300.00"))]
    b = EmployeeAccount.objects.get(id_number=B)
    assert (b.status, b.insured_region) == ("frozen", "330281")
    assert entries(b) == [("current", "import", Decimal("88.10"))]  # no zero entries
    assert EmployeeAccount.objects.get(id_number=C).historical_balance == Decimal("10.00")
    assert_ledger_balanced()


def test_same_file_again_changes_nothing(tmp_path):
    run_command(tmp_path, ROWS)
    before = AccountEntry.objects.count()
    code, summary, _ = run_command(tmp_path, ROWS)
    assert code == 0
    assert summary == {"rows": 3, "created": 0, "updated": 0, "unchanged": 3, "invalid_rows": 0, "rejected": False}
    assert AccountEntry.objects.count() == before == 4


def test_changed_balance_is_an_entry_of_the_difference(tmp_path):
    run_command(tmp_path, ROWS)
    rows = [("张甲", A, "310000", "1000.00", "350.25", "正常"), ROWS[1],
            ("王丙", C, "440100", "10.00", "0.00", "冻结")]
    code, summary, _ = run_command(tmp_path, rows)
    assert summary["updated"] == 2 and summary["unchanged"] == 1 and summary["created"] == 0
    a = EmployeeAccount.objects.get(id_number=A)
    assert (a.historical_balance, a.current_balance) == (Decimal("1000.00"), Decimal("350.25"))
    assert entries(a)[2:] == [("historical", "import", Decimal("-200.50")), ("current", "import", Decimal("50.25"))]
    c = EmployeeAccount.objects.get(id_number=C)
    assert c.status == "frozen" and len(entries(c)) == 1  # status only: no entry
    assert_ledger_balanced()


def test_bad_rows_reject_the_whole_file(tmp_path):
    bad = [ROWS[0],
           ("", number("310101", "19900101", "041"), "310000", "1", "1", "正常"),
           ("赵丁", "310101199001010412", "310000", "1", "1", "正常"),
           ("钱戊", number("310101", "19900101", "051"), "31000", "-5", "1.234", "停用"),
           ("张甲二", A, "310000", "1", "1", "正常")]
    code, summary, err = run_command(tmp_path, bad)
    assert code == 1
    assert summary == {"rows": 5, "created": 0, "updated": 0, "unchanged": 0, "invalid_rows": 4, "rejected": True}
    lines = err.splitlines()
    assert "row 3: 姓名: 不能为空" in lines
    assert any(line.startswith("row 4: 身份证号码:") for line in lines)
    assert any(line.startswith("row 5: 参保地: 应为六位行政区划代码") for line in lines)
    assert any(line.startswith("row 5: 历年账户余额:") for line in lines)
    assert any(line.startswith("row 5: 当年账户余额:") for line in lines)
    assert any(line.startswith("row 5: 账户状态:") for line in lines)
    assert "row 6: 身份证号码: 与第 2 行重复" in lines
    assert EmployeeAccount.objects.count() == 0 and AccountEntry.objects.count() == 0


def test_skip_invalid_writes_the_good_rows(tmp_path):
    rows = [ROWS[0], ("钱戊", number("310101", "19900101", "051"), "310000", "abc", "1", "正常")]
    code, summary, err = run_command(tmp_path, rows, "--skip-invalid")
    assert code == 0
    assert summary == {"rows": 2, "created": 1, "updated": 0, "unchanged": 0, "invalid_rows": 1, "rejected": False}
    assert list(EmployeeAccount.objects.values_list("id_number", flat=True)) == [A]


def test_account_check_command_finds_a_tampered_cache():
    accounts(ROWS[0], ROWS[2])
    out, err = StringIO(), StringIO()
    call_command("account_check", stdout=out, stderr=err)
    assert out.getvalue() == ""
    EmployeeAccount.objects.filter(id_number=A).update(historical_balance=Decimal("1.00"))  # not through the ledger
    with pytest.raises(SystemExit) as exc:
        call_command("account_check", stdout=out, stderr=err)
    assert exc.value.code == 1
    line = json.loads(out.getvalue().splitlines()[0])
    assert line == {"id_number": A, "name": "张甲", "historical_balance": "1.00", "historical_entries": "1200.50",
                    "current_balance": "300.00", "current_entries": "300.00"}
    assert [m.id_number for m in account_check()] == [A]


def test_account_year_end():
    assert account_year_end(date(2026, 6, 30)) == date(2026, 6, 30)
    assert account_year_end(date(2026, 6, 29)) == date(2025, 6, 30)
    assert account_year_end(date(2026, 7, 3)) == date(2026, 6, 30)


def test_settlement_moves_current_into_historical_once():
    accounts(*ROWS)
    out = StringIO()
    call_command("settle_accounts", "--on", "2026-06-30", stdout=out)
    assert json.loads(out.getvalue()) == {"year_end": "2026-06-30", "settled": 2, "amount": "388.10",
                                          "already_settled": 0}
    a = EmployeeAccount.objects.get(id_number=A)
    assert (a.historical_balance, a.current_balance) == (Decimal("1500.50"), Decimal("0.00"))
    assert entries(a)[2:] == [("current", "settlement", Decimal("-300.00")),
                              ("historical", "settlement", Decimal("300.00"))]
    b = EmployeeAccount.objects.get(id_number=B)
    assert (b.historical_balance, b.current_balance) == (Decimal("88.10"), Decimal("0.00"))
    count = AccountEntry.objects.count()
    # again (and the catch-up days of July): nothing more
    assert settle_accounts(date(2026, 6, 30)).settled == 0
    assert settle_accounts(date(2026, 7, 2)).settled == 0
    assert AccountEntry.objects.count() == count
    # new money in the same account year, imported after the settlement, is not settled twice
    accounts(("张甲", A, "310000", "1500.50", "20.00", "正常"))
    r = settle_accounts(date(2026, 7, 1))
    assert (r.settled, r.already) == (0, 1)
    # the next account year settles it
    assert settle_accounts(date(2027, 6, 30)).settled == 1
    a.refresh_from_db()
    assert (a.historical_balance, a.current_balance) == (Decimal("1520.50"), Decimal("0.00"))
    assert_ledger_balanced()


def test_ledger_entries_cannot_be_changed():
    from django.db import ProgrammingError, transaction

    accounts(ROWS[0])
    e = AccountEntry.objects.first()
    with pytest.raises(ProgrammingError, match="pgtrigger"), transaction.atomic():
        AccountEntry.objects.filter(pk=e.pk).update(amount=Decimal("1.00"))


def test_settlement_task_is_scheduled():
    from django.conf import settings

    entry = settings.CELERY_BEAT_SCHEDULE["settle-employee-accounts"]
    assert entry["task"] == "family_pool.accounts.settle_accounts_task"


def test_import_on_the_engine(settings, tmp_path):
    from core import batch
    from enrollment.import_jobs import import_submit

    settings.MEDIA_ROOT = str(tmp_path / "media")
    run = import_submit(kind="import_employee_accounts", data=csv(ROWS), filename="职工账户.csv", actor="test").run
    run = batch.run_inline(run)
    assert (run.status, run.summary) == ("done", {"rows": 3, "created": 3, "updated": 0, "unchanged": 0,
                                                  "invalid_rows": 0, "rejected": False})
    assert EmployeeAccount.objects.count() == 3
    bad = import_submit(kind="import_employee_accounts", data=csv([("", A, "310000", "1", "1", "正常")]),
                        filename="bad.csv", actor="test").run
    bad = batch.run_inline(bad)
    assert bad.status == "failed" and bad.report == "row 2: 姓名: 不能为空"
    assert_ledger_balanced()


def test_admin_import_preview_then_background_run(client, settings, tmp_path):
    from django.contrib.auth import get_user_model
    from django.core.files.uploadedfile import SimpleUploadedFile

    from core.models import BatchRun
    from enrollment.tests.support import caseworker

    settings.MEDIA_ROOT = str(tmp_path / "media")
    root = get_user_model().objects.create_superuser("root", password="Correct-horse-42")
    client.force_login(root)
    resp = client.post("/admin/family_pool/employeeaccount/import/",
                       {"format": "0", "import_file": SimpleUploadedFile("a.csv", csv(ROWS))})
    assert resp.status_code == 200
    page = resp.content.decode()
    assert "张甲" in page and A not in page  # masked in the preview
    assert EmployeeAccount.objects.count() == 0  # a preview writes nothing
    form = resp.context["confirm_form"]
    resp = client.post("/admin/family_pool/employeeaccount/process_import/", form.initial)
    assert resp.status_code == 302
    run = BatchRun.objects.get(kind="import_employee_accounts")
    assert run.params["file"] == "a.csv"
    client.force_login(caseworker("cw310", "310000"))  # one region's caseworker may not import the country's file
    assert client.get("/admin/family_pool/employeeaccount/import/").status_code == 403
