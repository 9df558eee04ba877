import json
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from enrollment.batches import record_import
from enrollment.imports import import_employee_coverage
from enrollment.spreadsheet import SpreadsheetError

from ._progress import Progress


class Command(BaseCommand):
    help = ("Import employee-insurance coverage years from .xlsx/.csv. Columns: 姓名, 身份证号码, "
            "参保地, 参保年度; optional 中断日期 (the day the person left employee insurance). "
            "Any bad row rejects the file (exit 1) unless --skip-invalid; a second import changes nothing.")

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument("--skip-invalid", action="store_true",
                            help="write the good rows, report the bad ones (exit 0)")
        parser.add_argument("--dry-run", action="store_true", help="check and count, write nothing")
        parser.add_argument("--progress", action="store_true",
                            help="show a progress bar even when not a terminal")

    def handle(self, *args, file, skip_invalid, dry_run, progress, **options):
        try:
            data = file.read_bytes()
        except OSError as exc:
            raise CommandError(f"cannot read {file}: {exc}") from None
        bar = Progress(True if progress else None)

        def work():
            return import_employee_coverage(data, file.name, skip_invalid=skip_invalid,
                                            dry_run=dry_run, progress=bar,
                                            actor=f"manage.py import_employee_coverage {file.name}")

        try:  # recorded as a BatchRun (批处理任务) unless a dry run
            result = work() if dry_run else record_import(
                "import_employee_coverage", work, source=str(file),
                options={"skip_invalid": skip_invalid})
        except SpreadsheetError as exc:
            self.stderr.write(f"{file.name}: {exc}")
            sys.exit(1)
        finally:
            bar.close()
        for error in result.errors:
            self.stderr.write(str(error))
        self.stdout.write(json.dumps(result.as_dict(), ensure_ascii=False))
        if result.rejected:
            sys.exit(1)
