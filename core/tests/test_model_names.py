"""Every model of ours names its rows in Chinese: the admin shows ``str(obj)`` as a change
page's title, an inline row's heading and a deletion's line, and "ModeChange object (1)" is
an English code on a caseworker's screen (hostile pass, 2026-12-02)."""

from django.apps import apps
from django.db import models

OURS = {"accounts", "core", "policy", "enrollment", "subsidies", "payments", "family_pool", "flexible"}


def _ours():
    for m in apps.get_models():
        if m._meta.app_label not in OURS or m._meta.auto_created:
            continue
        if m.__name__.endswith("Event") or m.__name__.endswith("Link"):  # pghistory's rows, auth's join rows
            continue
        yield m


def test_every_model_of_ours_has_a_name_of_its_own():
    missing = sorted(f"{m._meta.app_label}.{m.__name__}" for m in _ours() if m.__str__ is models.Model.__str__)
    assert missing == []


def test_a_mode_change_reads_as_its_time_and_modes():
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from family_pool.models import ModeChange

    sh = ZoneInfo("Asia/Shanghai")
    assert str(ModeChange(medical_mode=True, premium_mode=True, changed_at=datetime(2024, 12, 3, 11, 5, tzinfo=sh))) \
        == "2024-12-03 11:05 改为：共济支付、共济缴费"
    assert str(ModeChange(medical_mode=False, premium_mode=False, changed_at=datetime(2024, 12, 3, 3, 0, tzinfo=sh))) \
        == "2024-12-03 03:00 改为：均不开通"
