"""The ledger's references (enrollment, break-year repair, region, refunded payment, recording
user) checked once a statement by triggers instead of by foreign-key constraints, which
queued five checks a row for commit (core/db_references.py; bench/RESULTS.md, issues 10 and
11).  The triggers first, then the constraints go: one transaction, never a moment without
either."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

from core.db_references import reference_triggers

CREATE_TRIGGERS, DROP_TRIGGERS = reference_triggers("payments", [
    ("payments_payment", "enrollment_id", "enrollment_enrollment", "id"),
    ("payments_payment", "gap_repair_id", "enrollment_gaprepair", "id"),
    ("payments_payment", "region_id", "policy_region", "code"),
    ("payments_payment", "refund_of_id", "payments_payment", "id"),
    ("payments_payment", "recorded_by_id", "auth_user", "id"),
])


class Migration(migrations.Migration):

    dependencies = [
        ('core', '0005_reference_check_functions'),
        ('enrollment', '0014_zero_claim_years'),
        ('payments', '0006_reconitem_both_sides'),
        ('policy', '0004_flexible_scheme_cap_incentives_assessment'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RunSQL(CREATE_TRIGGERS, DROP_TRIGGERS),
        migrations.AlterField(
            model_name='payment',
            name='enrollment',
            field=models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='payments', to='enrollment.enrollment', verbose_name='参保登记'),
        ),
        migrations.AlterField(
            model_name='payment',
            name='gap_repair',
            field=models.OneToOneField(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='payment', to='enrollment.gaprepair', verbose_name='断保补缴记录'),
        ),
        migrations.AlterField(
            model_name='payment',
            name='recorded_by',
            field=models.ForeignKey(blank=True, db_constraint=False, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='记账人'),
        ),
        migrations.AlterField(
            model_name='payment',
            name='refund_of',
            field=models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='refunds', to='payments.payment', verbose_name='所退缴费'),
        ),
        migrations.AlterField(
            model_name='payment',
            name='region',
            field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='policy.region', verbose_name='参保地'),
        ),
    ]
