"""core.prepared.rows: the hot reads prepared on the connection after the settings'
prepare_threshold runs (DATABASE_PREPARE_THRESHOLD), the same rows as Django's cursor,
counted like Django's own queries; without a threshold, Django's cursor."""

from __future__ import annotations

import pytest
from django.db import connection

from core import prepared

pytestmark = pytest.mark.django_db

SQL = "SELECT %s::int + g, 'prepared-probe' FROM generate_series(1, 2) AS g"


def _prepared_here() -> int:
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s",
                    ["%prepared-probe%"])
        return cur.fetchone()[0]


def test_the_settings_turn_prepared_statements_on():
    connection.ensure_connection()
    assert connection.settings_dict["OPTIONS"]["prepare_threshold"] == 5
    assert connection.connection.prepare_threshold == 5


def test_a_read_is_prepared_once_it_ran_the_threshold_and_answers_the_same():
    connection.ensure_connection()
    threshold = connection.connection.prepare_threshold
    assert _prepared_here() == 0
    for i in range(threshold):
        assert prepared.rows(SQL, [i]) == [(i + 1, "prepared-probe"), (i + 2, "prepared-probe")]
    assert _prepared_here() == 0  # planned each time so far
    assert prepared.rows(SQL, [10]) == [(11, "prepared-probe"), (12, "prepared-probe")]
    assert _prepared_here() == 1  # now PostgreSQL keeps it
    with connection.cursor() as cur:  # Django's cursor, the same answer
        cur.execute(SQL, [10])
        assert cur.fetchall() == prepared.rows(SQL, [10])


def test_without_a_threshold_it_is_djangos_cursor(monkeypatch):
    connection.ensure_connection()
    monkeypatch.setattr(connection.connection, "prepare_threshold", None)
    for i in range(8):
        assert prepared.rows(SQL, [i])[0] == (i + 1, "prepared-probe")
    assert _prepared_here() == 0


def test_the_reads_are_counted_like_djangos(django_assert_num_queries):
    with django_assert_num_queries(2):
        prepared.rows(SQL, [1])
        prepared.rows(SQL, [2])


def test_errors_are_djangos():
    from django.db import ProgrammingError

    with pytest.raises(ProgrammingError):
        prepared.rows("SELECT no_such_column FROM generate_series(1, 1)", [])
