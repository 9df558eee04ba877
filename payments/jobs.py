"""The payment imports on the batch engine (the admin's background confirmation)."""

from core import batch
from enrollment.import_jobs import ImportJob

from .imports import import_payments

PAYMENT_LABELS = {"rows": "行数", "paid": "缴费入账", "unchanged": "无变化（此前已导入）",
                  "already_paid": "重复缴费（已列入退费）", "invalid_rows": "有错误的行"}

batch.register(ImportJob("import_payments", "导入集中代收缴费", import_payments, labels=PAYMENT_LABELS))
