import json
import sys

from django.core.management.base import BaseCommand

from family_pool.deductions import deduction_check


class Command(BaseCommand):
    help = ("List the December batch's deductions whose references are broken or disagree with the rows "
            "they point to (member, network, run, region, enrollment, payment, account entry; one JSON line "
            "each); exit 1 if any.  The table has no database foreign keys: this is their check.")

    def add_arguments(self, parser):
        parser.add_argument("--run", type=int, default=None, help="only the deductions of this batch run")

    def handle(self, *args, **options):
        bad = deduction_check(options["run"])
        for d in bad:
            self.stdout.write(json.dumps({"deduction_id": d.deduction_id, "id_number": d.id_number, "year": d.year,
                                          "problems": list(d.problems), "description": d.describe()},
                                         ensure_ascii=False))
        self.stderr.write(f"{len(bad)} deduction(s) with broken references")
        if bad:
            sys.exit(1)
