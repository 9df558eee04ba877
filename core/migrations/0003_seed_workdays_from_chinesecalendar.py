"""A fresh database knows 2024–2026 without any command: the holiday arrangements chinesecalendar
holds, written by the same function as ``manage.py seed_workdays``.  Safe to re-run (a year already
held is left alone); a year the installed library does not know is skipped, not an error."""

from django.db import migrations

SEED_YEARS = (2024, 2025, 2026)


def seed(apps, schema_editor):
    from core.workdays import library_years, seed_from_library

    known = set(library_years())
    seed_from_library([y for y in SEED_YEARS if y in known], actor="migration core.0003",
                      Year=apps.get_model("core", "WorkdayCalendarYear"),
                      Day=apps.get_model("core", "CalendarDay"))


class Migration(migrations.Migration):

    dependencies = [
        ("core", "0002_workday_calendar"),
    ]

    operations = [
        migrations.RunPython(seed, migrations.RunPython.noop, elidable=False),
    ]
