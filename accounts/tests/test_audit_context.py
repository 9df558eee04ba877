"""Who and why stay with each event: nested contexts, and commands run from the shell."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.db import connection

from core.audit import audit_context

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]


def contexts_of(username):
    from accounts.models import UserEvent

    return [e.pgh_context.metadata for e in UserEvent.objects.filter(username=username)
            .select_related("pgh_context").order_by("pgh_id")]


def test_a_nested_context_does_not_relabel_what_came_before():
    User = get_user_model()
    with audit_context("manage.py load_demo", action="load_demo"):
        User.objects.create_user("first", password="x")
        with audit_context("load_demo", action="enrollment_record_payment"):
            User.objects.create_user("second", password="x")
        User.objects.create_user("third", password="x")
    first, second, third = (contexts_of(n)[0] for n in ("first", "second", "third"))
    assert first == third == {"actor": "manage.py load_demo", "action": "load_demo"}
    assert second == {"actor": "load_demo", "action": "enrollment_record_payment"}


@pytest.mark.django_db(transaction=True)
def test_a_superuser_created_on_the_command_line_is_recorded_with_the_command():
    db = connection.settings_dict
    auth = f"{db['USER']}:{db['PASSWORD']}" if db.get("PASSWORD") else db["USER"]
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test", "DJANGO_SUPERUSER_PASSWORD": "x9-Long-pw",
           "DATABASE_URL": f"postgres://{auth}@{db['HOST']}:{db['PORT']}/{db['NAME']}"}
    out = subprocess.run([sys.executable, "manage.py", "createsuperuser", "--noinput", "--username", "op2",
                          "--email", "op2@example.org"], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert contexts_of("op2")[0] == {"actor": "manage.py createsuperuser"}


def test_the_trail_asks_for_an_event_kind_before_reading_any_table(client):
    """Unfiltered, the trail would be a union over every event table (finding of the
    hostile review: no answer in minutes at 300,000 events): it lists nothing until a
    kind is chosen, and then reads that table alone."""
    from django.test.utils import CaptureQueriesContext

    boss = get_user_model().objects.create_superuser("boss", password="x")
    client.force_login(boss)
    with CaptureQueriesContext(connection) as ctx:
        response = client.get("/admin/pghistory/events/")
    assert response.status_code == 200
    unions = [q for q in ctx.captured_queries if "UNION" in q["sql"].upper()]
    assert not unions, [u["sql"][:400] for u in unions]
    chosen = client.get("/admin/pghistory/events/", {"event_model": "accounts.userevent"})
    assert chosen.status_code == 200 and "boss" in chosen.content.decode()
