from enrollment.management.commands._import import ImportCommand
from subsidies.roster import import_roster


class Command(ImportCommand):
    help = ("Import a department's roster of certified needy people for a region and benefit year "
            "from .xlsx/.csv (UTF-8, UTF-8 with BOM, or GBK). Columns: 姓名, 身份证号码, 困难类别 (code "
            "or Chinese name), 认定部门, 认定日期. The department's earlier list for the same region "
            "and year is replaced (removed counts the identities it no longer holds). Any bad row "
            "rejects the whole file (exit 1) unless --skip-invalid. Prints {rows, new, unchanged, "
            "removed, invalid_rows, pending, rejected, …}.")
    kind = "import_roster"
    rejection_summary = True

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("--region", required=True, help="region code, e.g. 141100")
        parser.add_argument("--year", required=True, type=int, help="benefit year, e.g. 2026")

    def service_options(self, options):
        return {"region": options["region"], "year": options["year"]}

    def run_params(self, options):
        return {"region": options["region"], "year": options["year"], "regions": [options["region"]]}

    def service(self, data, filename, **kwargs):
        return import_roster(data, filename, **kwargs)
