"""assistance_report: the funding report of a region and year as JSON, optionally as XLSX."""

import json

from django.core.management.base import BaseCommand, CommandError

from policy.models import Region
from policy.rules import QuoteError
from subsidies.reports import funding_report, write_xlsx


class Command(BaseCommand):
    help = ("Print the assistance funding report of a region and benefit year as JSON (by identity, "
            "by funding source, totals, pending identities; money as \"0.00\" strings). A city "
            "includes the counties that run its policy. --xlsx FILE also writes the workbook "
            "(sheets 按资助身份 / 按资金来源 / 资助人员名单).")

    def add_arguments(self, parser):
        parser.add_argument("--region", required=True, help="region code, e.g. 141100")
        parser.add_argument("--year", required=True, type=int, help="benefit year, e.g. 2026")
        parser.add_argument("--xlsx", help="also write the report as an .xlsx workbook")

    def handle(self, *args, region, year, xlsx=None, **options):
        if not Region.objects.filter(code=region).exists():
            raise CommandError(f"未知地区 {region[:20]}")
        try:
            report = funding_report(region, year)
        except QuoteError as exc:
            raise CommandError(exc.message) from None
        if xlsx:
            with open(xlsx, "wb") as f:
                write_xlsx(f, report)
        self.stdout.write(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
