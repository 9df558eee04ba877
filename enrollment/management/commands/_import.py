"""What the import commands share: read the file, run the service (recorded as a BatchRun
unless a dry run), report every bad row as ``row N: column: reason`` on stderr, print the
counts as JSON, exit 1 when the file is rejected or unreadable."""

import json
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from enrollment.batches import record_import
from enrollment.spreadsheet import SpreadsheetError

from ._progress import Progress


class ImportCommand(BaseCommand):
    kind = ""  # the BatchRun kind and the actor's name: import_residents, …
    rejection_summary = False  # one more stderr line after the rows of a rejected file

    def service(self, data: bytes, filename: str, **kwargs):  # pragma: no cover - abstract
        raise NotImplementedError

    def service_options(self, options: dict) -> dict:
        """The service's own arguments from the command line (a roster's region and year)."""
        return {}

    def run_params(self, options: dict) -> dict:
        """What the BatchRun records beside the file (and its regions, for the admin's scope)."""
        return {}

    def run_regions(self, result) -> set[str] | None:
        """The regions the file's rows are about, recorded on the run so that the caseworkers
        of those regions see it in 批处理任务 (an admin import records its submitter's)."""
        return None

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument("--skip-invalid", action="store_true",
                            help="write the good rows, report the bad ones (exit 0)")
        parser.add_argument("--dry-run", action="store_true", help="check and count, write nothing")
        parser.add_argument("--progress", action="store_true",
                            help="show a progress bar even when not a terminal")

    def handle(self, *args, file, skip_invalid, dry_run, progress, **options):
        extra = self.service_options(options)
        try:
            data = file.read_bytes()
        except OSError as exc:
            raise CommandError(f"cannot read {file}: {exc}") from None
        bar = Progress(True if progress else None)

        def work():
            return self.service(data, file.name, skip_invalid=skip_invalid, dry_run=dry_run,
                                actor=f"manage.py {self.kind} {file.name}", progress=bar, **extra)

        try:
            result = work() if dry_run else record_import(
                self.kind, work, source=str(file),
                options={"skip_invalid": skip_invalid, **self.run_params(options)}, regions_of=self.run_regions)
        except SpreadsheetError as exc:
            self.stderr.write(f"{file.name}: {exc}")
            sys.exit(1)
        finally:
            bar.close()
        for error in result.errors:
            self.stderr.write(str(error))
        for warning in getattr(result, "warnings", ()):
            self.stderr.write(f"warning: {warning}")
        self.stdout.write(json.dumps(result.as_dict(), ensure_ascii=False))
        if result.rejected:
            if self.rejection_summary:
                self.stderr.write(f"rejected: {len({e.row for e in result.errors})} invalid row(s); "
                                  "nothing written")
            sys.exit(1)
