"""Generated rosters through import_roster: every file imports or becomes ``row N: column:
reason`` errors (or a file error); never another exception, never a half-written list."""

import re
from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from enrollment.spreadsheet import SpreadsheetError
from enrollment.tests.test_import_properties import any_text, id_numbers, names
from subsidies.models import AssistanceIdentity, RosterChange, RosterImport
from subsidies.roster import ROSTER_REQUIRED, import_roster

from .test_roster import roster

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("policies")]

TODAY = date(2025, 11, 10)
LINE = re.compile(r"^row (\d+): ([^:]+): (.+)$", re.S)

rows = st.lists(st.tuples(
    names, id_numbers(),
    st.one_of(st.sampled_from(["低保对象", "特困人员", "监测对象", "返贫致贫人口", "持二代残疾证", "dibao",
                               "孤儿", "贫困户", ""]), any_text),
    st.one_of(st.sampled_from(["民政局", "乡村振兴局", "残联", "退役军人事务局", "教育局", ""]), any_text),
    st.one_of(st.sampled_from(["2025-06-01", "2025/6/1", "2025年6月1日", "2025-12-01", "2025-02-30",
                               "0001-01-01", ""]), any_text),
), min_size=1, max_size=6)


def counts():
    return (AssistanceIdentity.objects.count(), RosterImport.objects.count(), RosterChange.objects.count())


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(rows=rows, skip_invalid=st.booleans())
def test_every_roster_imports_or_reports_rows_and_never_half_writes(rows, skip_invalid):
    before = counts()
    try:
        result = import_roster(roster([list(r) for r in rows]), "x.csv", region="141100", year=2026,
                               today=TODAY, skip_invalid=skip_invalid, actor="hypothesis")
    except SpreadsheetError:
        assert counts() == before
        return
    for error in result.errors:
        m = LINE.match(str(error))
        assert m, str(error)
        assert 2 <= int(m.group(1)) <= len(rows) + 1
        assert m.group(2) in ROSTER_REQUIRED
        assert len(m.group(3)) < 200  # a received value is echoed cut
    if result.rejected:
        assert result.errors and counts() == before
    else:
        assert skip_invalid or result.errors == []
        assert AssistanceIdentity.objects.filter(removed_at__isnull=True).count() >= result.new
