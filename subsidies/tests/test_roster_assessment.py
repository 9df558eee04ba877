"""The roster's optional 评定日期 column (003 §二(五)): a disability certificate new in 2025
counts for Lüliang's 2026 assistance only if the disability was assessed by 2025-10-31 (and
the certificate held by 2025-11-30).  Stored on the identity, shown in the admin, carried to
the quote; a late assessment is a row error, as a late certificate is."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from enrollment.tests.support import person, register
from subsidies.models import AssistanceIdentity
from subsidies.selectors import identities_for

from .test_roster import HEADER, active, roster
from subsidies.roster import import_roster

pytestmark = pytest.mark.usefixtures("policies")
WITH_ASSESSED = HEADER + ["评定日期"]


TODAY = date(2025, 11, 30)  # in Lüliang's window; every certificate below is held by now


def run(rows, header=WITH_ASSESSED, **kw):
    return import_roster(roster(rows, header=header), "残联名单.csv", region="141100", year=2026, today=TODAY,
                         actor="test", **kw)


@pytest.mark.parametrize("assessed, certified, ok", [
    ("2025-10-31", "2025-11-20", True),    # on the deadline
    ("2025-11-01", "2025-11-20", False),   # a day late, certificate new in 2025
    ("2025-11-01", "2024-06-01", True),    # an older certificate: not checked
    ("", "2025-11-20", True),              # not given: the quote says it was not checked
])
def test_the_assessment_deadline_at_each_boundary(assessed, certified, ok):
    li = person("141102", "19800501", name="李四")
    e = register(li, 2026, TODAY)
    result = run([["李四", li.id_number, "持第二代残疾人证", "残联", certified, assessed]], skip_invalid=True)
    e.refresh_from_db()
    if ok:
        assert result.as_dict()["invalid_rows"] == 0
        a = active().get()
        assert (a.identity, a.certified_on, a.assessed_on) == (
            "disabled_certified", date.fromisoformat(certified), date.fromisoformat(assessed) if assessed else None)
        assert (e.amount_due, e.assistance_identity, e.assistance_amount) == (
            Decimal("0.00"), "disabled_certified", Decimal("400.00"))
        ident, = identities_for(li.id_number, 2026, "141100")
        assert ident.assessed_on == (date.fromisoformat(assessed) if assessed else None)
    else:
        assert result.as_dict()["invalid_rows"] == 1
        assert [str(x) for x in result.errors] == [
            "row 2: 评定日期: 2025 年新办残疾人证须在 2025-10-31 前完成残疾评定，评定日期为 2025-11-01，不能享受资助"]
        assert not AssistanceIdentity.objects.exists()
        assert (e.amount_due, e.assistance_identity) == (Decimal("400.00"), "")


def test_an_assessment_date_on_another_identity_or_unreadable_refuses_the_file_whole():
    li = person("141102", "19800501", name="李四")
    wang = person("141102", "19750301", "021", name="王五")
    result = run([["李四", li.id_number, "低保对象", "民政局", "2025-06-01", "2025-05-01"],
                  ["王五", wang.id_number, "持第二代残疾人证", "残联", "2025-06-01", "去年"]])
    assert result.rejected
    assert [str(e) for e in result.errors] == ["row 2: 评定日期: 仅持证残疾人填写评定日期，其他困难类别请留空",
                                               "row 3: 评定日期: 应为 YYYY-MM-DD 日期，收到 '去年'"]
    assert not AssistanceIdentity.objects.exists()


def test_a_corrected_assessment_date_is_an_update_and_the_file_without_the_column_still_imports():
    li = person("141102", "19800501", name="李四")
    first = run([["李四", li.id_number, "持第二代残疾人证", "残联", "2025-11-20", "2025-10-01"]])
    assert first.new == 1
    again = run([["李四", li.id_number, "持第二代残疾人证", "残联", "2025-11-20", "2025-10-20"]])
    assert (again.new, again.updated, again.unchanged) == (0, 1, 0)
    assert active().get().assessed_on == date(2025, 10, 20)
    plain = run([["李四", li.id_number, "持第二代残疾人证", "残联", "2025-11-20"]], header=HEADER)
    assert (plain.updated, plain.as_dict()["invalid_rows"]) == (1, 0)  # the date is no longer given
    assert active().get().assessed_on is None
