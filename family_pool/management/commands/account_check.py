import json
import sys

from django.core.management.base import BaseCommand

from family_pool.accounts import account_check


class Command(BaseCommand):
    help = ("List the employee accounts whose cached balances differ from the sum of their ledger "
            "entries (one JSON line each); exit 1 if any.")

    def handle(self, *args, **options):
        bad = account_check()
        for m in bad:
            self.stdout.write(json.dumps({
                "id_number": m.id_number, "name": m.name,
                "historical_balance": f"{m.historical_balance:.2f}", "historical_entries": f"{m.historical_entries:.2f}",
                "current_balance": f"{m.current_balance:.2f}", "current_entries": f"{m.current_entries:.2f}",
            }, ensure_ascii=False))
        self.stderr.write(f"{len(bad)} account(s) out of balance")
        if bad:
            sys.exit(1)
