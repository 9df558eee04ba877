from enrollment.selectors import resident_regions
from enrollment.management.commands._import import ImportCommand
from payments.imports import import_payments


class Command(ImportCommand):
    help = ("Import payments collected for many people (a school, a village committee) and past years "
            "carried over from an earlier system (渠道 原系统结转) from .xlsx/.csv (UTF-8, UTF-8 with BOM, "
            "or GBK). Columns: 渠道, 交易流水号, 身份证号码, 姓名, 待遇年度, 金额, 缴费时间 (optional 缴费单位, "
            "缴费单位代码, 险种: empty or 城乡居民 for the resident scheme, 灵活就业人员医疗保险 or "
            "flexible_employment for the flexible-employment scheme). Each row lands as a channel payment would, idempotent on 渠道+交易流水号. Any bad "
            "row rejects the whole file (exit 1) unless --skip-invalid. Prints {rows, paid, unchanged, "
            "already_paid, invalid_rows, rejected}.")
    kind = "import_payments"
    rejection_summary = True

    def service(self, data, filename, **kwargs):
        return import_payments(data, filename, **kwargs)

    def run_regions(self, result):
        return resident_regions(r.id_number for r in result.rows)
