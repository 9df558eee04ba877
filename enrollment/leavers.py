"""Leaving another scheme (退出其他制度保障): 003 §三(四) (Lüliang: the employee insurance
stopped by the rules, soldiers discharged that year and their accompanying unemployed
spouses, people released from prison — "在退出其他制度保障3個月內 … 可按規定補辦居民醫保參保手續，
自參保繳費次日起享受待遇") and 001 §三 注 (Xining: "职工医保中断缴费3个月内参加居民医保 … 不受
居民医保参保缴费期政策限制").

Each leaving is a ``SchemeExit`` row of the resident with its date and evidence.  The facts
for the rules (enrollment.selectors) take ``left_other_scheme_on`` from these rows and from
employee insurance that ended (``EmployeeCoverage.ended_on``) with ``reach_date``; the rule
itself — how many months after leaving, from when benefits start — is the policy's
``left_other_scheme`` group (policy data), applied by policy.rules.quote.
"""

from __future__ import annotations

from datetime import date


def reach_date(employee_left: date | None, exits: tuple[date, ...], on: date) -> date | None:
    """The leaving day the 3-month rule is asked about for a payment on ``on``.

    Without recorded leavings: the day employee insurance ended (as before).  With them:
    the latest leaving on or before ``on`` (a later one cannot be the reason for this
    payment, and an earlier one is farther from it, so the latest is the only one that can
    be within the months); if every leaving is after ``on``, the latest of all (the quote
    then says why the rule does not apply)."""
    if not exits:
        return employee_left
    days = [*exits, *([employee_left] if employee_left is not None else [])]
    before = [d for d in days if d <= on]
    return max(before) if before else max(days)


# --- writes (one transaction each, audited; unpaid enrollments priced again) --------------------

def _services():
    from . import services  # services imports the selectors, which import this module

    return services


def _clean(*, kind: str, left_on, evidence_kind: str, evidence_number: str, today: date) -> dict:
    from .models import SchemeExitEvidence, SchemeExitKind
    from .spreadsheet import has_invisible

    error = _services().EnrollmentError
    if kind not in SchemeExitKind.values:
        raise error("invalid_input", "请选择退出其他制度保障的类别")
    if not isinstance(left_on, date):
        raise error("invalid_input", "请填写退出日期")
    if left_on > today:
        raise error("invalid_input", f"退出日期 {left_on.isoformat()} 晚于今天 {today.isoformat()}，不能预先登记")
    if left_on.year < 2000:
        raise error("invalid_input", f"退出日期 {left_on.isoformat()} 不合理")
    if evidence_kind not in SchemeExitEvidence.values:
        raise error("invalid_input", "请选择证明材料")
    number = (evidence_number or "").strip()
    if not number:
        raise error("invalid_input", "请填写证明材料的编号")
    if len(number) > 50 or has_invisible(number):
        raise error("invalid_input", "证明编号过长或含有不可见字符")
    return {"kind": kind, "left_on": left_on, "evidence_kind": evidence_kind, "evidence_number": number}


def validate_scheme_exit(*, kind, left_on, evidence_kind, evidence_number, today: date | None = None) -> None:
    """The checks ``scheme_exit_record`` makes, for a form to show early."""
    from core import clock

    _clean(kind=kind, left_on=left_on, evidence_kind=evidence_kind, evidence_number=evidence_number,
           today=today or clock.today())


def _reprice(resident, today: date) -> list:
    """Every unpaid enrollment of the person priced again with the leaving known (or gone),
    as a change of the resident's facts is (enrollment.pricing); a refusal undoes the write."""
    from .models import Enrollment
    from .pricing import plan_repricing
    from .selectors import PersonFacts
    from .writer import enrollments_reprice

    plan = plan_repricing([PersonFacts.of(resident)], today=today)
    if plan.refused:
        refusal = plan.refused[resident.id_number]
        raise _services().EnrollmentError(refusal.code, refusal.message)
    ids = enrollments_reprice(plan.updates)
    return list(Enrollment.objects.filter(pk__in=ids).order_by("year", "id"))


def scheme_exit_record(*, resident, kind: str, left_on: date, evidence_kind: str, evidence_number: str,
                       actor, note: str = "", today: date | None = None):
    """Record that a person left another scheme on ``left_on``, with the evidence seen.
    The same person, kind and day twice is refused (``duplicate``); unpaid enrollments are
    priced again (the leaving may free them from the window and the waiting)."""
    from django.db import IntegrityError, transaction

    from core import clock
    from core.audit import audit_context
    from core.audit_actor import acting_user

    from .models import Resident, SchemeExit

    services = _services()
    today = today or clock.today()
    clean = _clean(kind=kind, left_on=left_on, evidence_kind=evidence_kind, evidence_number=evidence_number,
                   today=today)
    with transaction.atomic(), audit_context(actor, action="scheme_exit_record"):
        locked = Resident.objects.select_for_update().get(pk=resident.pk)
        if SchemeExit.objects.filter(resident=locked, kind=kind, left_on=left_on).exists():
            raise services.EnrollmentError("duplicate", f"{locked.name} 已有 {left_on.isoformat()} 的同类退出记录")
        try:
            with transaction.atomic():
                row = SchemeExit.objects.create(resident=locked, id_number=locked.id_number, recorded_at=clock.now(),
                                                recorded_by=acting_user(actor),
                                                note=(note or "").strip()[:200], **clean)
        except IntegrityError:
            raise services.EnrollmentError("duplicate",
                                           f"{locked.name} 已有 {left_on.isoformat()} 的同类退出记录") from None
        row.repriced = _reprice(locked, today)
        return row


def scheme_exit_remove(*, scheme_exit, actor, today: date | None = None) -> list:
    """Delete a leaving recorded in error (the audit trail keeps it); unpaid enrollments are
    priced again without it — refused, with nothing deleted, if one then cannot be priced."""
    from django.db import transaction

    from core import clock
    from core.audit import audit_context

    from .models import Resident, SchemeExit

    today = today or clock.today()
    with transaction.atomic(), audit_context(actor, action="scheme_exit_remove"):
        row = SchemeExit.objects.select_related("resident").get(pk=scheme_exit.pk)
        locked = Resident.objects.select_for_update().get(pk=row.resident_id)
        row.delete()
        return _reprice(locked, today)
