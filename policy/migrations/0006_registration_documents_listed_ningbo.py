"""Data: the policy years of Ningbo (330200) list a registration's documents (000 §2).

Until now the rule was a constant in code (enrollment.documents.SOURCES_LISTING_DOCUMENTS =
{"330200": "000 §2"}); the schema migration adds the field unset everywhere, so the years
already in the database get the value the constant gave them — the bundled data files say
the same (``registration_documents_listed: true`` in policies/330200-2025.yaml).  The
revision goes up, so a process holding the year's spec reads it again.  Safe to re-run."""

from django.db import migrations
from django.db.models import F


def forwards(apps, schema_editor):
    PolicyYear = apps.get_model("policy", "PolicyYear")
    PolicyYear.objects.filter(region_id="330200", registration_documents_listed=False).update(
        registration_documents_listed=True, revision=F("revision") + 1)


class Migration(migrations.Migration):
    dependencies = [("policy", "0005_policy_year_registration_documents_listed")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
