"""The cyclic garbage collector is paused for an import only: off while it runs, on again after
it — also after a refused file — and left off when the caller had it off."""

from __future__ import annotations

import gc

import pytest

from enrollment.tests.support import person
from subsidies import roster
from subsidies.models import AssistanceIdentity
from subsidies.roster import RosterFileError
from subsidies.tests.test_roster import HEADER, roster as roster_file, run

pytestmark = pytest.mark.usefixtures("policies")


def test_paused_during_an_import_and_running_after_it(monkeypatch):
    seen = []
    check = roster._check_rows

    def spy(*args, **kwargs):
        seen.append(gc.isenabled())
        return check(*args, **kwargs)

    monkeypatch.setattr(roster, "_check_rows", spy)
    li = person("141102", "19800501", name="李四")
    assert gc.isenabled()
    result = run([["李四", li.id_number, "低保对象", "民政局", "2025-06-01"]])
    assert (result.new, seen, gc.isenabled()) == (1, [False], True)
    assert AssistanceIdentity.objects.get().id_number == li.id_number
    with pytest.raises(RosterFileError):
        roster.import_roster(roster_file([], header=HEADER), "名单.csv", region="141100", year=2026)
    assert gc.isenabled()
    gc.disable()
    try:
        run([["李四", li.id_number, "低保对象", "民政局", "2025-06-01"]])
        assert not gc.isenabled()
    finally:
        gc.enable()
