"""The enrollments table keeps free space on its pages for in-place (HOT) re-price updates
(migration 0013)."""

import pytest
from django.db import connection

pytestmark = pytest.mark.django_db


def test_the_enrollment_table_has_fillfactor_80():
    with connection.cursor() as cur:
        cur.execute("SELECT reloptions FROM pg_class WHERE relname = 'enrollment_enrollment'")
        (options,) = cur.fetchone()
    assert options == ["fillfactor=80"]
