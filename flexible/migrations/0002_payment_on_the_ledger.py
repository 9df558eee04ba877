"""Flexible payments on the payments ledger (issue 13): the enrollment's link to its ledger row
(a one-to-one foreign key) and the check that a paid enrollment has one.  An enrollment
marked paid before this (no ledger row) gets one, carried over (channel 原系统结转, txn id
``flexible-<id>``, its own paid amount and date) so the check holds; safe to run again."""

import django.db.models.deletion
import pgtrigger.compiler
import pgtrigger.migrations
from django.conf import settings
from django.db import migrations, models


def carry_over_paid(apps, schema_editor):
    from datetime import datetime, time
    from zoneinfo import ZoneInfo

    from django.utils import timezone

    Flexible = apps.get_model("flexible", "FlexibleEnrollment")
    Payment = apps.get_model("payments", "Payment")
    shanghai = ZoneInfo("Asia/Shanghai")
    for e in Flexible.objects.filter(status="paid", payment__isnull=True).select_related("resident").order_by("pk"):
        txn = f"flexible-{e.pk}"
        p = Payment.objects.filter(channel="carried_over", txn_id=txn).first()
        if p is None:
            p = Payment.objects.create(
                kind="payment", outcome="applied", channel="carried_over", txn_id=txn,
                scheme="flexible_employment", scheme_enrollment_id=e.pk, id_number=e.resident.id_number,
                name=e.resident.name, region_id=e.region_id, year=e.year, amount=e.paid_amount,
                paid_at=datetime.combine(e.paid_on, time(12, 0), tzinfo=shanghai), paid_on=e.paid_on,
                payer_kind="self", recorded_at=timezone.now(), actor="migration flexible 0002",
                note="灵活就业人员医疗保险缴费记入缴费流水（迁移补记）")
        Flexible.objects.filter(pk=e.pk).update(payment=p)


class Migration(migrations.Migration):

    dependencies = [
        ('flexible', '0001_initial'),
        ('payments', '0008_flexible_scheme_payments'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        pgtrigger.migrations.RemoveTrigger(
            model_name='flexibleenrollment',
            name='insert_insert',
        ),
        pgtrigger.migrations.RemoveTrigger(
            model_name='flexibleenrollment',
            name='update_update',
        ),
        pgtrigger.migrations.RemoveTrigger(
            model_name='flexibleenrollment',
            name='delete_delete',
        ),
        migrations.AddField(
            model_name='flexibleenrollment',
            name='payment',
            field=models.OneToOneField(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='flexible_enrollment', to='payments.payment', verbose_name='缴费流水'),
        ),
        migrations.AddField(
            model_name='flexibleenrollmentevent',
            name='payment',
            field=models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', related_query_name='+', to='payments.payment', verbose_name='缴费流水'),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='flexibleenrollment',
            trigger=pgtrigger.compiler.Trigger(name='insert_insert', sql=pgtrigger.compiler.UpsertTriggerSql(func='INSERT INTO "flexible_flexibleenrollmentevent" ("amount_due", "basic_amount", "benefit_end", "benefit_start", "cancel_reason", "cancelled_at", "certificate_from", "critical_illness_amount", "file_held_at", "id", "interruption_months", "large_medical_amount", "makeup_basic", "paid_amount", "paid_on", "paid_previous_year", "payment_id", "person_status", "pgh_context_id", "pgh_created_at", "pgh_label", "pgh_obj_id", "region_id", "registered_at", "registered_by_id", "resident_id", "retired_from", "retirement_age_reached_on", "status", "timing", "updated_at", "waiting_months", "year") VALUES (NEW."amount_due", NEW."basic_amount", NEW."benefit_end", NEW."benefit_start", NEW."cancel_reason", NEW."cancelled_at", NEW."certificate_from", NEW."critical_illness_amount", NEW."file_held_at", NEW."id", NEW."interruption_months", NEW."large_medical_amount", NEW."makeup_basic", NEW."paid_amount", NEW."paid_on", NEW."paid_previous_year", NEW."payment_id", NEW."person_status", _pgh_attach_context(), NOW(), \'insert\', NEW."id", NEW."region_id", NEW."registered_at", NEW."registered_by_id", NEW."resident_id", NEW."retired_from", NEW."retirement_age_reached_on", NEW."status", NEW."timing", NEW."updated_at", NEW."waiting_months", NEW."year"); RETURN NULL;', hash='05fd3ab5486ddacf0e679e638cb6f0e2b04016f9', operation='INSERT', pgid='pgtrigger_insert_insert_c565f', table='flexible_flexibleenrollment', when='AFTER')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='flexibleenrollment',
            trigger=pgtrigger.compiler.Trigger(name='update_update', sql=pgtrigger.compiler.UpsertTriggerSql(condition='WHEN (OLD.* IS DISTINCT FROM NEW.*)', func='INSERT INTO "flexible_flexibleenrollmentevent" ("amount_due", "basic_amount", "benefit_end", "benefit_start", "cancel_reason", "cancelled_at", "certificate_from", "critical_illness_amount", "file_held_at", "id", "interruption_months", "large_medical_amount", "makeup_basic", "paid_amount", "paid_on", "paid_previous_year", "payment_id", "person_status", "pgh_context_id", "pgh_created_at", "pgh_label", "pgh_obj_id", "region_id", "registered_at", "registered_by_id", "resident_id", "retired_from", "retirement_age_reached_on", "status", "timing", "updated_at", "waiting_months", "year") VALUES (NEW."amount_due", NEW."basic_amount", NEW."benefit_end", NEW."benefit_start", NEW."cancel_reason", NEW."cancelled_at", NEW."certificate_from", NEW."critical_illness_amount", NEW."file_held_at", NEW."id", NEW."interruption_months", NEW."large_medical_amount", NEW."makeup_basic", NEW."paid_amount", NEW."paid_on", NEW."paid_previous_year", NEW."payment_id", NEW."person_status", _pgh_attach_context(), NOW(), \'update\', NEW."id", NEW."region_id", NEW."registered_at", NEW."registered_by_id", NEW."resident_id", NEW."retired_from", NEW."retirement_age_reached_on", NEW."status", NEW."timing", NEW."updated_at", NEW."waiting_months", NEW."year"); RETURN NULL;', hash='37d1bf9fad5337a3e0ccb0bc3e8db29e2ade24dc', operation='UPDATE', pgid='pgtrigger_update_update_ba78c', table='flexible_flexibleenrollment', when='AFTER')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='flexibleenrollment',
            trigger=pgtrigger.compiler.Trigger(name='delete_delete', sql=pgtrigger.compiler.UpsertTriggerSql(func='INSERT INTO "flexible_flexibleenrollmentevent" ("amount_due", "basic_amount", "benefit_end", "benefit_start", "cancel_reason", "cancelled_at", "certificate_from", "critical_illness_amount", "file_held_at", "id", "interruption_months", "large_medical_amount", "makeup_basic", "paid_amount", "paid_on", "paid_previous_year", "payment_id", "person_status", "pgh_context_id", "pgh_created_at", "pgh_label", "pgh_obj_id", "region_id", "registered_at", "registered_by_id", "resident_id", "retired_from", "retirement_age_reached_on", "status", "timing", "updated_at", "waiting_months", "year") VALUES (OLD."amount_due", OLD."basic_amount", OLD."benefit_end", OLD."benefit_start", OLD."cancel_reason", OLD."cancelled_at", OLD."certificate_from", OLD."critical_illness_amount", OLD."file_held_at", OLD."id", OLD."interruption_months", OLD."large_medical_amount", OLD."makeup_basic", OLD."paid_amount", OLD."paid_on", OLD."paid_previous_year", OLD."payment_id", OLD."person_status", _pgh_attach_context(), NOW(), \'delete\', OLD."id", OLD."region_id", OLD."registered_at", OLD."registered_by_id", OLD."resident_id", OLD."retired_from", OLD."retirement_age_reached_on", OLD."status", OLD."timing", OLD."updated_at", OLD."waiting_months", OLD."year"); RETURN NULL;', hash='1a737641c2cd720322cecf40298de6789efc656e', operation='DELETE', pgid='pgtrigger_delete_delete_32506', table='flexible_flexibleenrollment', when='AFTER')),
        ),
        migrations.RunPython(carry_over_paid, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name='flexibleenrollment',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('payment__isnull', False), ('status', 'paid')), models.Q(models.Q(('status', 'paid'), _negated=True), ('payment__isnull', True)), _connector='OR'), name='flex_paid_is_on_the_ledger'),
        ),
    ]
