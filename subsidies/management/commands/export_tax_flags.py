"""export_tax_flags: the tax bureau's 特殊缴费标识 file for a region and year (layout: README)."""

from django.core.management.base import BaseCommand, CommandError

from policy.models import Region
from policy.rules import QuoteError
from policy.selectors import published_spec
from subsidies.reports import write_tax_flags


class Command(BaseCommand):
    help = ("Write the tax bureau's special-contribution flag file (特殊缴费标识) for a region and "
            "benefit year: UTF-8 CSV with BOM, one row per assisted enrollment that is not cancelled "
            "(a city includes the counties that run its policy). Layout in README.md.")

    def add_arguments(self, parser):
        parser.add_argument("--region", required=True, help="region code, e.g. 141100")
        parser.add_argument("--year", required=True, type=int, help="benefit year, e.g. 2026")
        parser.add_argument("--output", help="file to write (default: standard output)")

    def handle(self, *args, region, year, output=None, **options):
        if not Region.objects.filter(code=region).exists():
            raise CommandError(f"未知地区 {region[:20]}")
        try:
            published_spec(region, year)  # refused before a file is opened, never half-written
            if output:
                with open(output, "w", encoding="utf-8", newline="") as f:
                    n = write_tax_flags(f, region, year)
                self.stderr.write(f"{n} 行已写入 {output}")
            else:
                self.stdout.ending = ""  # the CSV writer ends each row with CRLF itself
                write_tax_flags(self.stdout, region, year)
        except QuoteError as exc:
            raise CommandError(exc.message) from None
