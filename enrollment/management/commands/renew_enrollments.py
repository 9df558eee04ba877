import json

from django.core.management.base import BaseCommand, CommandError

from enrollment.batches import run_renewal
from enrollment.services import EnrollmentError

from ._progress import Progress


class Command(BaseCommand):
    help = ("Default renewal: register for Y everyone whose Y-1 enrollment in the region (and its "
            "counties) is paid and who still qualifies in the same category; print a JSON summary "
            '{"renewed", "unchanged", "reregister": {reason: n}}. Running it again renews nobody twice.')

    def add_arguments(self, parser):
        parser.add_argument("--region", required=True)
        parser.add_argument("--to-year", type=int, required=True)
        parser.add_argument("--progress", action="store_true")

    def handle(self, *args, region, to_year, progress, **options):
        bar = Progress(True if progress else None)
        try:
            summary = run_renewal(region=region, to_year=to_year, actor="manage.py renew_enrollments",
                                  progress=lambda done, total: bar("默认续保", done, total))
        except EnrollmentError as exc:
            raise CommandError(exc.message) from None
        finally:
            bar.close()
        self.stdout.write(json.dumps(summary, ensure_ascii=False))
