from django.core.management.base import BaseCommand, CommandError

from accounts.models import TokenScope
from accounts.services import TokenError, api_token_create


class Command(BaseCommand):
    help = "Create an integration token for the HTTP API and print it (shown only once)."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--scope", required=True, choices=TokenScope.values)

    def handle(self, *args, name, scope, **options):
        try:
            _, raw = api_token_create(name=name, scope=scope, actor="manage.py create_api_token")
        except TokenError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(raw)
