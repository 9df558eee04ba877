"""manage.py seed_workdays [--years 2024-2026]: the holiday calendar from chinesecalendar."""

from django.core.management.base import BaseCommand, CommandError

from core.workdays import LibraryYearUnknown, library_years, seed_from_library


def parse_years(text: str) -> list[int]:
    """``2026``, ``2024-2026`` or ``2024,2026``."""
    years = set()
    try:
        for part in text.split(","):
            lo, _, hi = part.strip().partition("-")
            lo, hi = int(lo), int(hi or lo)
            if not 2000 <= lo <= hi <= 2100:
                raise ValueError
            years.update(range(lo, hi + 1))
    except ValueError:
        raise CommandError(f"--years 应为 2026、2024-2026 或 2024,2026 这样的年度：{text!r}") from None
    return sorted(years)


class Command(BaseCommand):
    help = ("Seed the working-day calendar (工作日日历) from chinesecalendar: holidays on weekdays and "
            "working weekends.  Idempotent: a year already held is left as it is.  A year the library "
            "does not know is reported and nothing is written (exit 1).")

    def add_arguments(self, parser):
        parser.add_argument("--years", help="e.g. 2024-2026 (default: 2024 to the library's last year)")

    def handle(self, *args, years=None, **options):
        wanted = parse_years(years) if years else list(range(2024, library_years()[-1] + 1))
        try:
            summary = seed_from_library(wanted, actor="manage.py seed_workdays")
        except LibraryYearUnknown as exc:
            raise CommandError(f"{exc}；未写入任何年度") from None
        for line in summary.lines():
            self.stdout.write(line)
