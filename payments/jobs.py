"""The payment imports on the batch engine (the admin's background confirmation)."""

from core import batch
from enrollment.import_jobs import ImportJob

from .imports import import_payments
from .reconcile import import_tax_deposits

PAYMENT_LABELS = {"rows": "行数", "paid": "缴费入账", "unchanged": "无变化（此前已导入）",
                  "already_paid": "重复缴费（已列入退费）", "invalid_rows": "有错误的行"}
DEPOSIT_LABELS = {"rows": "行数", "matched": "一致", "missing_here": "我方无缴费记录",
                  "missing_there": "税务无入库记录", "amount_differs": "金额不符", "invalid_rows": "有错误的行"}


class _JobResult:
    def __init__(self, result):
        self.result, self.errors = result, result.errors

    def as_dict(self):
        return self.result.as_job_dict()


class DepositImportJob(ImportJob):
    def call_service(self, run, data, **kwargs):
        return _JobResult(import_tax_deposits(data, run.params["file"], **kwargs))


batch.register(ImportJob("import_payments", "导入集中代收缴费", import_payments, labels=PAYMENT_LABELS))
batch.register(DepositImportJob("import_tax_deposits", "导入税务入库记录（对账）", import_tax_deposits,
                                labels=DEPOSIT_LABELS))
