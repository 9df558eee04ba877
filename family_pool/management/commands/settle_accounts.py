import json
from datetime import date

from django.core.management.base import BaseCommand, CommandError

from core import clock
from family_pool.accounts import settle_accounts


class Command(BaseCommand):
    help = ("The 30 June settlement: move every account's current-year balance into its historical "
            "balance for the account year ending on the last 30 June on or before --on (default: "
            "the business date). Running it again for the same year changes nothing.")

    def add_arguments(self, parser):
        parser.add_argument("--on", help="YYYY-MM-DD, e.g. 2026-06-30")

    def handle(self, *args, on=None, **options):
        try:
            day = date.fromisoformat(on) if on else clock.today()
        except ValueError:
            raise CommandError(f"--on should be YYYY-MM-DD, got {on!r}") from None
        result = settle_accounts(day, actor="manage.py settle_accounts")
        self.stdout.write(json.dumps(result.as_dict(), ensure_ascii=False))
