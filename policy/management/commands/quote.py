import json
import sys

from django.core.management.base import BaseCommand

from policy.quoting import decode, quote_payload
from policy.rules import QuoteError


class Command(BaseCommand):
    help = ("Quote contributions: reads one request object or an array of them as JSON "
            "on standard input (or --json) and prints the results as JSON. Exit status: "
            "0 all succeeded (always 0 for an array), 1 a single request failed, 2 unreadable input.")

    def add_arguments(self, parser):
        parser.add_argument("--json", dest="text", help="the request JSON instead of standard input")
        parser.add_argument("--explain", action="store_true",
                            help="add each step of the calculation, in Chinese")

    def handle(self, *args, text=None, explain=False, **options):
        if text is None:
            text = sys.stdin.read()
        try:
            payload = decode(text)
        except QuoteError as exc:
            self._print(exc.as_dict())
            sys.exit(2)
        answer, ok = quote_payload(payload, explain=explain)
        self._print(answer)
        if not isinstance(payload, list) and not ok:
            sys.exit(1)

    def _print(self, obj):
        self.stdout.write(json.dumps(obj, ensure_ascii=False, indent=1))
