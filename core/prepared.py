"""Reads run as server-side prepared statements, where the settings allow it.

Django's cursors bind parameters on the client and never prepare (pghistory's audit
context needs that: it sends ``SELECT set_config(…); <the statement>`` as one string,
which a prepared statement cannot hold).  The channel API's few hot reads — the same
short SELECT thousands of times a second — spend more of PostgreSQL's CPU on planning
than on running (bench/RESULTS.md, channel API).  ``rows`` runs such a read through a
psycopg cursor that binds on the server: psycopg prepares it on a connection once it ran
there ``prepare_threshold`` times (``DATABASES["default"]["OPTIONS"]["prepare_threshold"]``,
config/settings ``DATABASE_PREPARE_THRESHOLD``), and PostgreSQL plans it no more.  With no
threshold (the setting empty, e.g. behind a pooler in transaction mode that does not keep
prepared statements) it is Django's cursor, as any other read.

Only for plain SELECTs, one statement, with parameters PostgreSQL can type from their
context (no audit context is needed: pghistory records writes, and ignores SELECTs).
Counted in ``connection.queries`` like Django's own when queries are logged (tests,
DEBUG); ``connection.execute_wrapper`` does not see them.
"""

from __future__ import annotations

import time

import psycopg
from django.db import connection


def rows(sql: str, params) -> list[tuple]:
    """Every row of one SELECT, prepared on the connection after ``prepare_threshold`` runs."""
    connection.ensure_connection()
    raw = connection.connection
    if raw.prepare_threshold is None:
        with connection.cursor() as cur:  # Django's
            cur.execute(sql, params)
            return cur.fetchall()
    started = time.monotonic()
    with connection.wrap_database_errors, psycopg.Cursor(raw) as cur:
        cur.execute(sql, params)
        found = cur.fetchall()
    if connection.queries_logged:
        connection.queries_log.append({"sql": f"{sql} -- {params!r}",
                                       "time": f"{time.monotonic() - started:.3f}"})
    return found
