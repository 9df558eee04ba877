"""The employee accounts import on the batch engine (the admin's background confirmation)."""

from core import batch
from enrollment.import_jobs import ImportJob

from .accounts import import_employee_accounts

ACCOUNT_LABELS = {"rows": "行数", "created": "新增账户", "updated": "余额或信息变更", "unchanged": "无变化",
                  "invalid_rows": "有错误的行"}


class AccountImportJob(ImportJob):
    def call_service(self, run, data, **kwargs):
        return import_employee_accounts(data, run.params["file"], run=run, **kwargs)


batch.register(AccountImportJob("import_employee_accounts", "导入职工个人账户", import_employee_accounts,
                                labels=ACCOUNT_LABELS))
