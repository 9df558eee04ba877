from enrollment.imports import import_employee_coverage

from ._import import ImportCommand


class Command(ImportCommand):
    help = ("Import employee-insurance coverage years from .xlsx/.csv. Columns: 姓名, 身份证号码, "
            "参保地, 参保年度; optional 中断日期 (the day the person left employee insurance). "
            "Any bad row rejects the file (exit 1) unless --skip-invalid; a second import changes nothing.")
    kind = "import_employee_coverage"

    def service(self, data, filename, **kwargs):
        return import_employee_coverage(data, filename, **kwargs)
