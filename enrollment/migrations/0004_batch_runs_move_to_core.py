"""Batch runs move to the core app (the batch engine): copy the rows, then drop the table."""

from django.db import migrations


def copy_runs(apps, schema_editor):
    old = apps.get_model("enrollment", "BatchRun")
    new = apps.get_model("core", "BatchRun")
    fields = ["kind", "params", "status", "total", "processed", "succeeded", "failed", "summary",
              "report", "created_by_id", "created_at", "started_at", "finished_at"]
    batch = []
    for run in old.objects.order_by("id").iterator(chunk_size=2000):
        # a run left queued or running by the old code can no longer be resumed: mark it failed
        status = run.status if run.status in ("done", "failed") else "failed"
        batch.append(new(id=run.id, **{**{f: getattr(run, f) for f in fields}, "status": status}))
        if len(batch) >= 2000:
            new.objects.bulk_create(batch, ignore_conflicts=True)
            batch = []
    new.objects.bulk_create(batch, ignore_conflicts=True)
    if old.objects.exists():
        schema_editor.execute("SELECT setval(pg_get_serial_sequence('core_batchrun', 'id'), "
                              "(SELECT max(id) FROM core_batchrun))")


class Migration(migrations.Migration):
    dependencies = [
        ("enrollment", "0003_enrollment_list_indexes"),
        ("core", "0001_batch_runs_and_chunks"),
    ]

    operations = [
        migrations.RunPython(copy_runs, migrations.RunPython.noop),
        migrations.DeleteModel(name="BatchRun"),
    ]
