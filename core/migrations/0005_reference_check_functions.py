"""The functions behind the reference checks by statement (core/db_references.py)."""

from django.db import migrations

from core.db_references import DROP_FUNCTIONS, FUNCTIONS


class Migration(migrations.Migration):

    dependencies = [
        ('core', '0004_home_figures'),
    ]

    operations = [
        migrations.RunSQL(FUNCTIONS, DROP_FUNCTIONS),
    ]
