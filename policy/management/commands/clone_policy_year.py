from django.core.management.base import BaseCommand, CommandError

from policy.services import PolicyError, clone_policy_year


class Command(BaseCommand):
    help = ("Copy a region's policy year to another year: every figure the same, every date "
            "moved by the difference in years (29 Feb -> 28 Feb). A draft unless --publish.")

    def add_arguments(self, parser):
        parser.add_argument("--region", required=True)
        parser.add_argument("--from-year", type=int, required=True)
        parser.add_argument("--to-year", type=int, required=True)
        parser.add_argument("--publish", action="store_true")

    def handle(self, *args, region, from_year, to_year, publish, **options):
        try:
            result = clone_policy_year(region=region, from_year=from_year, to_year=to_year,
                                       publish=publish, actor="manage.py clone_policy_year")
        except PolicyError as exc:
            raise CommandError(str(exc)) from None
        py = result.policy_year
        state = "published" if result.published else "draft"
        verb = "created" if result.created else "already present"
        self.stdout.write(f"{py.region_id} {py.year}: {verb}, {state}")
