import json
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from enrollment.batches import record_import
from enrollment.imports import import_residents
from enrollment.spreadsheet import SpreadsheetError

from ._progress import Progress


class Command(BaseCommand):
    help = ("Import residents from .xlsx or .csv (UTF-8, UTF-8 with BOM, or GBK). Columns: 姓名, "
            "身份证号码, 户籍 (本地/外地), 居住证 (有/无), 学生类别 (中小学生/大学生/空), 参保地; "
            "optional 参保年度 registers the person for that year. Any bad row rejects the whole "
            "file (exit 1) unless --skip-invalid. Importing the same file again changes nothing.")

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument("--skip-invalid", action="store_true",
                            help="import the good rows and report the bad ones")
        parser.add_argument("--dry-run", action="store_true", help="check only, write nothing")
        parser.add_argument("--progress", action="store_true", help="show a progress bar even when not a terminal")

    def handle(self, *args, file, skip_invalid, dry_run, progress, **options):
        try:
            data = file.read_bytes()
        except OSError as exc:
            raise CommandError(f"cannot read {file}: {exc}") from None
        bar = Progress(True if progress else None)

        def work():
            return import_residents(data, file.name, skip_invalid=skip_invalid, dry_run=dry_run,
                                    actor=f"manage.py import_residents {file.name}", progress=bar)

        try:  # recorded as a BatchRun (批处理任务) unless a dry run
            result = work() if dry_run else record_import(
                "import_residents", work, source=str(file), options={"skip_invalid": skip_invalid})
        except SpreadsheetError as exc:
            bar.close()
            self.stderr.write(f"{file.name}: {exc}")
            sys.exit(1)
        bar.close()
        for error in result.errors:
            self.stderr.write(str(error))
        self.stdout.write(json.dumps(result.as_dict(), ensure_ascii=False))
        if result.rejected:
            self.stderr.write(f"rejected: {len({e.row for e in result.errors})} invalid row(s); nothing written")
            sys.exit(1)
