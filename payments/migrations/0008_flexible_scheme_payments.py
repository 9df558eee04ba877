"""Payments of other schemes on the ledger (issue 13, payments.schemes): the payment's scheme
(``resident`` for every row so far: a database default, so the bulk COPY and raw inserts
that do not name it stay right) and the scheme's enrollment id; the check of what a payment
pays now lets a non-resident payment name neither an enrollment nor a repair; one applied
payment per scheme enrollment; a refund of such a payment names its source payment instead
of an enrollment."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('payments', '0007_references_checked_by_statement'),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name='payment',
            name='payment_on_enrollment_or_repair',
        ),
        migrations.AddField(
            model_name='payment',
            name='scheme',
            field=models.CharField(choices=[('resident', '城乡居民基本医疗保险'), ('flexible_employment', '灵活就业人员医疗保险')], db_default='resident', default='resident', max_length=30, verbose_name='险种'),
        ),
        migrations.AddField(
            model_name='payment',
            name='scheme_enrollment_id',
            field=models.PositiveBigIntegerField(blank=True, null=True, verbose_name='险种参保登记编号'),
        ),
        migrations.AlterField(
            model_name='refund',
            name='enrollment',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='refund_requests', to='enrollment.enrollment', verbose_name='参保登记'),
        ),
        migrations.AlterField(
            model_name='refundevent',
            name='enrollment',
            field=models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', related_query_name='+', to='enrollment.enrollment', verbose_name='参保登记'),
        ),
        migrations.AddConstraint(
            model_name='payment',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('scheme', 'resident'), ('scheme_enrollment_id__isnull', True), models.Q(models.Q(('enrollment__isnull', False), ('gap_repair__isnull', True)), models.Q(('enrollment__isnull', True), ('gap_repair__isnull', False)), _connector='OR')), models.Q(models.Q(('scheme', 'resident'), _negated=True), ('enrollment__isnull', True), ('gap_repair__isnull', True), ('scheme_enrollment_id__isnull', False)), _connector='OR'), name='payment_on_what_it_pays'),
        ),
        migrations.AddConstraint(
            model_name='payment',
            constraint=models.UniqueConstraint(condition=models.Q(('outcome', 'applied'), ('scheme_enrollment_id__isnull', False)), fields=('scheme', 'scheme_enrollment_id'), name='payment_one_applied_per_scheme_enrollment'),
        ),
        migrations.AddConstraint(
            model_name='refund',
            constraint=models.CheckConstraint(condition=models.Q(('enrollment__isnull', False), ('source_payment__isnull', False), _connector='OR'), name='refund_names_what_it_refunds'),
        ),
    ]
