import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from policy.datafile import PolicyFileError
from policy.services import load_policies


class Command(BaseCommand):
    help = ("Load the regions and the bundled policy years (policies/*.yaml). Running it again "
            "changes nothing; a year whose database copy differs from its file is reported and "
            "left alone unless --force.")

    def add_arguments(self, parser):
        parser.add_argument("--dir", type=Path, help="directory of the policy files (default: policies/)")
        parser.add_argument("--force", action="store_true",
                            help="rewrite years whose database copy differs from the file")

    def handle(self, *args, dir=None, force=False, **options):
        try:
            summary = load_policies(dir, actor="manage.py load_policies", force=force)
        except PolicyFileError as exc:
            raise CommandError(f"policy file rejected, nothing loaded: {exc}") from None
        self.stdout.write(json.dumps(summary.as_dict(), ensure_ascii=False))
        if summary.differs:
            self.stderr.write(
                "differs from its file (left as it is; --force rewrites): " + ", ".join(summary.differs))
