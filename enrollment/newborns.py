"""Ningbo's non-local newborn (000 §1(一)): "在本市居住的非本市户籍0-6个月新生儿，其父母一方已参加
本市基本医保且待遇正常的，可由父母一方持户口本和本市有效居住证为其办理居民医保参保手续".

``enrollment_register_newborn`` registers such a baby linked to the parent's resident record
(``NewbornParentLink``), after checking from the data that:

- the baby is non-local and holds no valid permit of its own (otherwise it registers on its own);
- the region's policy has the rule and the baby is within its months (policy data:
  ``nonlocal_infant_parent_months``, Ningbo 6) on the day the registration is priced;
- the parent is another person who is local, or holds a valid residence permit that day;
- the parent's benefits are normal: a paid resident enrollment for the year in the same
  policy region whose benefits have started by that day (or start on the first day of the year,
  when registering ahead of it) — not waiting — or employee insurance (职工医保, also
  "本市基本医保") in the region for the year, not ended.

Anything else is a refusal in plain Chinese; nothing is written.
"""

from __future__ import annotations

from datetime import date

from django.db import transaction

from core import clock
from core.audit import audit_context
from core.audit_actor import acting_user

from .models import (
    EmployeeCoverage,
    Enrollment,
    EnrollmentStatus,
    Hukou,
    NewbornParentLink,
    RegisteredVia,
    Resident,
)
from .pricing import registration_date
from .selectors import permit_valid
from .services import EnrollmentError, enrollment_register, spec_for


def _refuse(message: str) -> EnrollmentError:
    return EnrollmentError("not_eligible", message)


def parent_coverage(parent: Resident, *, policy_code: str, region_name: str, year: int, on: date,
                    year_start: date):
    """The parent's paid enrollment of ``year`` whose benefits are normal on ``on`` (None when
    the parent is in employee insurance instead); refused with the reason otherwise."""
    from policy.models import Region

    codes = {policy_code, *Region.objects.filter(policy_region_id=policy_code).values_list("code", flat=True)}
    live = list(Enrollment.objects.filter(resident=parent, year=year, region_id__in=codes)
                .exclude(status=EnrollmentStatus.CANCELLED).order_by("id"))
    paid = next((e for e in live if e.status == EnrollmentStatus.PAID), None)
    if paid is not None:
        if paid.benefit_start > max(on, year_start):
            raise _refuse(f"父母一方 {parent.name} 的 {year} 年度待遇自 {paid.benefit_start.isoformat()} 起，"
                          f"{on.isoformat()} 尚在待遇等待期，待遇不正常，不能凭其居住证为新生儿参保")
        return paid
    employee = EmployeeCoverage.objects.filter(id_number=parent.id_number, year=year, region_code__in=codes)
    if any(c.ended_on is None or c.ended_on >= on for c in employee):
        return None
    if live:
        raise _refuse(f"父母一方 {parent.name} 已登记 {year} 年度居民医保但尚未缴费，待遇不正常，"
                      "须先缴费后再为新生儿办理")
    raise _refuse(f"父母一方 {parent.name} 未参加{region_name} {year} 年度基本医保，不能凭其居住证为新生儿参保")


def enrollment_register_newborn(*, resident: Resident, year: int, parent: Resident, same_household: bool,
                                actor, today: date | None = None,
                                registered_via: str = RegisteredVia.NEWBORN) -> Enrollment:
    """Register a non-local newborn on a parent's residence permit, linked to the parent."""
    today = today or clock.today()
    if parent is None:
        raise EnrollmentError("invalid_input", "请填写父母一方的身份证号码")
    with transaction.atomic(), audit_context(actor, action="enrollment_register_newborn"):
        baby = Resident.objects.select_for_update().get(pk=resident.pk)
        parent = Resident.objects.get(pk=parent.pk)
        if parent.pk == baby.pk:
            raise EnrollmentError("invalid_input", "父母一方不能是新生儿本人")
        if baby.hukou == Hukou.LOCAL:
            raise _refuse(f"{baby.name} 为本地户籍，按本人户籍登记参保，无需凭父母居住证")
        spec = spec_for(baby.region_id, year)
        on = registration_date(spec, today)
        if permit_valid(baby, on):
            raise _refuse(f"{baby.name} 本人持有效居住证，按本人居住证登记参保")
        months = spec.nonlocal_infant_parent_months
        if months is None:
            raise _refuse(f"{spec.region_name} {year} 年度政策没有凭父母居住证为外地新生儿参保的规定")
        from policy.rules.dates import add_months

        limit = add_months(baby.birth_date, months)
        if on > limit:
            raise _refuse(f"{baby.name} 出生于 {baby.birth_date.isoformat()}，{on.isoformat()} 已超过出生后 "
                          f"{months} 个月（至 {limit.isoformat()}），不能凭父母居住证参保；须先办理本人居住登记")
        if parent.birth_date >= baby.birth_date:
            raise EnrollmentError("invalid_input", f"{parent.name} 的出生日期不早于新生儿，不能作为父母一方")
        if parent.hukou != Hukou.LOCAL and not permit_valid(parent, today):
            raise _refuse(f"父母一方 {parent.name} 没有本市有效居住证，不能凭其居住证为新生儿参保")
        parent_enrollment = parent_coverage(parent, policy_code=spec.region_code, region_name=spec.region_name,
                                            year=year, on=today, year_start=spec.year_start)
        e = enrollment_register(resident=baby, year=year, registered_via=registered_via, actor=actor,
                                today=today, via_parent_permit=True)
        NewbornParentLink.objects.create(enrollment=e, parent=parent, parent_enrollment=parent_enrollment,
                                         same_household=bool(same_household), checked_on=today,
                                         recorded_by=acting_user(actor))
        return e
