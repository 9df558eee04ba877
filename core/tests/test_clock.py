"""The business clock: BUSINESS_DATE pins the date, the time of day stays real."""

import os
import subprocess
import sys
from datetime import date
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from core import clock


def test_unpinned_clock_follows_the_real_date(settings):
    settings.BUSINESS_DATE = None
    assert clock.today() == timezone.localdate()
    assert clock.now().date() == timezone.localdate()


def test_pinned_date_keeps_the_time_of_day(settings):
    settings.BUSINESS_DATE = date(2026, 12, 21)
    assert clock.today() == date(2026, 12, 21)
    now = clock.now()
    real = timezone.localtime()
    assert now.date() == date(2026, 12, 21)
    assert now.tzinfo is not None and now.utcoffset() == real.utcoffset()
    assert abs((now.hour * 3600 + now.minute * 60) - (real.hour * 3600 + real.minute * 60)) <= 60
    assert now.astimezone(ZoneInfo("Asia/Shanghai")).date() == date(2026, 12, 21)


def _settings_import(module: str, **env) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k != "BUSINESS_DATE"}
    return subprocess.run(
        [sys.executable, "-c", f"import {module} as s; print(s.BUSINESS_DATE)"],
        env={**base, **env}, capture_output=True, text=True, timeout=60)


def test_environment_variable_sets_the_date():
    out = _settings_import("config.settings.test", BUSINESS_DATE="2027-01-10")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "2027-01-10"


@pytest.mark.parametrize("bad", ["2027-13-40", "2026-02-29", "20260101", "2026-1-1", "garbage"])
def test_a_bad_business_date_refuses_to_start(bad):
    out = _settings_import("config.settings.test", BUSINESS_DATE=bad)
    assert out.returncode != 0
    assert "BUSINESS_DATE" in out.stderr and bad in out.stderr


def test_production_refuses_a_pinned_date():
    out = _settings_import("config.settings.production", BUSINESS_DATE="2027-01-10",
                           SECRET_KEY="x" * 60, ALLOWED_HOSTS="example.org",
                           DATABASE_URL="postgres://u@127.0.0.1/db", CELERY_BROKER_URL="redis://127.0.0.1")
    assert out.returncode != 0
    assert "BUSINESS_DATE" in out.stderr
