"""A small partial index over the payments of other schemes than the resident one
(payments.schemes; 灵活就业人员医疗保险): their ledger check reads them without scanning the
ledger's resident rows."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('payments', '0009_null_keys_not_indexed'),
    ]

    operations = [
        migrations.AddIndex(
            model_name='payment',
            index=models.Index(condition=models.Q(('scheme', 'resident'), _negated=True), fields=['scheme', 'scheme_enrollment_id'], name='payment_other_scheme'),
        ),
    ]
