import json

from django.core.management.base import BaseCommand

from payments.refunds import queue_owed_refunds


class Command(BaseCommand):
    help = ("Turn every owed assistance refund (dynamic adjustment, from the rosters) not yet queued "
            "into a refund request awaiting a caseworker's approval. Again = nothing new. "
            "Prints {\"queued\": n}.")

    def add_arguments(self, parser):
        parser.add_argument("--region", action="append", help="region code (repeatable); default all")

    def handle(self, *args, region=None, **options):
        queued = queue_owed_refunds(region=region, actor="manage.py queue_owed_refunds")
        self.stdout.write(json.dumps({"queued": queued}))
