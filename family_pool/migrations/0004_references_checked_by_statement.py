"""The account entries' reference to their account checked once a statement by a trigger
instead of by a foreign-key constraint checked per row at commit (core/db_references.py;
the December batch writes an entry per deducted member)."""

import django.db.models.deletion
from django.db import migrations, models

from core.db_references import reference_triggers

CREATE_TRIGGERS, DROP_TRIGGERS = reference_triggers("family_pool", [
    ("family_pool_accountentry", "account_id", "family_pool_employeeaccount", "id"),
])


class Migration(migrations.Migration):

    dependencies = [
        ('core', '0005_reference_check_functions'),
        ('family_pool', '0003_deduction_references_unchecked'),
    ]

    operations = [
        migrations.RunSQL(CREATE_TRIGGERS, DROP_TRIGGERS),
        migrations.AlterField(
            model_name='accountentry',
            name='account',
            field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.PROTECT, related_name='entries', to='family_pool.employeeaccount', verbose_name='账户'),
        ),
    ]
