"""The 1,000,000-resident data set shared by the benches (the generator of bench/admin.py).

``bench/admin.py`` builds it (COPY into a scratch database, audit triggers off for
the load only); this module gives the other benches the same generator without
duplicating it: ``prepare_schema``, ``load``, ``vacuum_analyze``, ``sql_value``,
``server_description`` and the renewal's region, years and business date.
Set ``DATABASE_URL`` (and ``DJANGO_SETTINGS_MODULE``) before importing it.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

_spec = importlib.util.spec_from_file_location("bench_admin", Path(__file__).resolve().parent / "admin.py")
_admin = importlib.util.module_from_spec(_spec)
sys.modules["bench_admin"] = _admin  # dataclasses look their module up
_spec.loader.exec_module(_admin)

prepare_schema = _admin.prepare_schema
load = _admin.load
vacuum_analyze = _admin.vacuum_analyze
sql_value = _admin.sql_value
server_description = _admin.server_description
audit_triggers_disabled = _admin.audit_triggers_disabled
RENEW_REGION, RENEW_FROM, RENEW_TO = _admin.RENEW_REGION, _admin.RENEW_FROM, _admin.RENEW_TO
RENEW_TODAY = _admin.RENEW_TODAY
copy_rows = _admin.copy_rows
