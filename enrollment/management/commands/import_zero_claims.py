from enrollment.imports.zero_claims import import_zero_claims

from ._import import ImportCommand


class Command(ImportCommand):
    help = ("Import zero-claim years (零报销名单, 004 (一)Q1) from .xlsx/.csv (UTF-8, UTF-8 with BOM, or GBK). "
            "Columns: 身份证号码, 姓名, 年度; optional 依据 (what the row rests on; default: the file's name). "
            "Each person must be a resident here (of --region when given, a county running its policy "
            "included) with a paid enrollment for the year, and the year must have ended. --year: the "
            "list's year (a blank 年度 takes it; another is a row error). Any bad row rejects the file "
            "(exit 1) unless --skip-invalid; a year already recorded is unchanged, so a second import "
            "changes nothing. Prints {rows, created, unchanged, repriced, invalid_rows, rejected}.")
    kind = "import_zero_claims"
    rejection_summary = True

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("--region", help="region code of the list, e.g. 310000")
        parser.add_argument("--year", type=int, help="the list's year, e.g. 2025")

    def service_options(self, options):
        return {"region": options.get("region"), "year": options.get("year")}

    def run_params(self, options):
        params = {"region": options.get("region"), "year": options.get("year")}
        if options.get("region"):
            params["regions"] = [options["region"]]
        return params

    def service(self, data, filename, **kwargs):
        return import_zero_claims(data, filename, **kwargs)
