from enrollment.imports import import_residents

from ._import import ImportCommand


class Command(ImportCommand):
    help = ("Import residents from .xlsx or .csv (UTF-8, UTF-8 with BOM, or GBK). Columns: 姓名, "
            "身份证号码, 户籍 (本地/外地), 居住证 (有/无), 学生类别 (中小学生/大学生/空), 参保地; "
            "optional 参保年度 registers the person for that year. Any bad row rejects the whole "
            "file (exit 1) unless --skip-invalid. Importing the same file again changes nothing.")
    kind = "import_residents"
    rejection_summary = True

    def service(self, data, filename, **kwargs):
        return import_residents(data, filename, **kwargs)

    def run_regions(self, result):
        return {p.region_id for p in result.rows}
