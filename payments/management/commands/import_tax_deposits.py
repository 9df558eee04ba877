import json
import sys

from django.core.management.base import CommandError

from enrollment.batches import record_import
from enrollment.management.commands._import import ImportCommand
from enrollment.management.commands._progress import Progress
from enrollment.spreadsheet import SpreadsheetError
from payments.reconcile import import_tax_deposits


class _Recorded:
    """What ``record_import`` reads of a result (it wants invalid_rows and rejected too)."""

    def __init__(self, result):
        self.result, self.total_rows, self.errors, self.rejected = (result, result.total_rows, result.errors,
                                                                    result.rejected)

    def as_dict(self):
        return self.result.as_job_dict()


def _regions(recorded: _Recorded):
    """The regions of the reconciliation run (those of the payments and deposits it names)."""
    run = recorded.result.run
    return set(run.regions) if run is not None else set()


class Command(ImportCommand):
    help = ("Match the tax bureau's deposit records (税务入库记录) against our payments: .xlsx/.csv with "
            "columns 入库日期, 交易流水号, 渠道, 身份证号码, 待遇年度, 金额. Stored as a reconciliation run "
            "(对账批次) with its differences; the same file again changes nothing. Any bad row rejects the "
            "file (exit 1) unless --skip-invalid. Prints {rows, matched, missing_here, missing_there, "
            "amount_differs}.")
    kind = "import_tax_deposits"
    rejection_summary = True

    def handle(self, *args, file, skip_invalid, dry_run, progress, **options):
        try:
            data = file.read_bytes()
        except OSError as exc:
            raise CommandError(f"cannot read {file}: {exc}") from None
        bar = Progress(True if progress else None)

        def work():
            return _Recorded(import_tax_deposits(data, file.name, skip_invalid=skip_invalid, dry_run=dry_run,
                                                 actor=f"manage.py {self.kind} {file.name}", progress=bar))

        try:
            recorded = work() if dry_run else record_import(self.kind, work, source=str(file),
                                                            options={"skip_invalid": skip_invalid},
                                                            regions_of=_regions)
        except SpreadsheetError as exc:
            self.stderr.write(f"{file.name}: {exc}")
            sys.exit(1)
        finally:
            bar.close()
        result = recorded.result
        for error in result.errors:
            self.stderr.write(str(error))
        self.stdout.write(json.dumps(result.as_dict(), ensure_ascii=False))
        if result.rejected:
            self.stderr.write(f"rejected: {len({e.row for e in result.errors})} invalid row(s); nothing written")
            sys.exit(1)
