from enrollment.management.commands._import import ImportCommand
from family_pool.accounts import import_employee_accounts


class Command(ImportCommand):
    help = ("Import employees' personal accounts from the employee scheme (.xlsx/.csv: UTF-8, UTF-8 "
            "with BOM, or GBK). Columns: 姓名, 身份证号码, 参保地 (six-digit region code, anywhere in "
            "the country), 历年账户余额, 当年账户余额, 账户状态 (正常/冻结). Every balance change is "
            "an import entry of the difference; the same file again changes nothing. Any bad row "
            "rejects the whole file (exit 1) unless --skip-invalid. Prints {rows, created, updated, "
            "unchanged, invalid_rows, rejected}.")
    kind = "import_employee_accounts"
    rejection_summary = True

    def service(self, data, filename, **kwargs):
        return import_employee_accounts(data, filename, **kwargs)

    def run_regions(self, result):
        return {r.insured_region for r in result.rows}
