"""Enrollment endpoints (INTERFACES.md section 5, scope ``staff``)."""

import re

from accounts.api_auth import endpoint
from accounts.scoping import can_see_region
from core.api import ApiError, read_json

from . import idnumbers
from .models import Enrollment, EnrollmentStatus, RegisteredVia, Resident
from .selectors import enrollments_for
from .services import EnrollmentError, enrollment_register

# INTERFACES.md section 5 names school, community and online; "counter" (经办窗口, issue 13) is
# accepted too (added, none taken away).
API_VIAS = ("school", "community", "online", "counter")
# The shape of a stored (normalised) number; the check digit is not asked of a lookup.
ID_SHAPE = re.compile(r"[0-9]{17}[0-9X]")
YEARS = range(1900, 2201)


def _money(value):
    return None if value is None else f"{value:.2f}"


def enrollment_json(e: Enrollment) -> dict:
    return {
        "id_number": e.resident.id_number,
        "name": e.resident.name,
        "region": e.region_id,
        "year": e.year,
        "category": e.category,
        "status": e.status,
        "registered_via": e.registered_via,
        "amount_due": _money(e.amount_due),
        "paid_amount": _money(e.paid_amount),
        "paid_via": e.paid_via or None,
        "benefit_start": e.benefit_start.isoformat() if e.benefit_start else None,
        "benefit_end": e.benefit_end.isoformat() if e.benefit_end else None,
        "waiting_months": e.waiting_months,
        "waiting_days": e.waiting_days,
        "assistance": ({"identity": e.assistance_identity, "amount": _money(e.assistance_amount)}
                       if e.assistance_identity else None),
    }


def _visible(request, resident: Resident | None) -> bool:
    if resident is None:
        return False
    if request.api_token is not None:
        return True  # integration tokens serve the whole bureau
    return can_see_region(request.user, resident.region_id)


def _require_perm(request, perm: str) -> None:
    """A staff session acts with the user's own permissions (an auditor reads, never writes)."""
    if request.api_token is None and not request.user.has_perm(perm):
        raise ApiError(403, "forbidden", "您没有此操作的权限")


def _actor(request):
    return request.user if request.api_token is None else f"api token {request.api_token.name}"


# HTTP status of each domain error: the API's business (the admin shows the message).
ERROR_STATUS = {
    "invalid_input": 422,
    "policy_missing": 404,
    "not_registered": 404,
    "resident_not_found": 404,
    "not_eligible": 422,
    "payment_day_not_allowed": 422,
    "window_not_open": 422,
    "window_closed": 422,
    "value_not_in_source": 422,
    "name_mismatch": 422,
    "region_mismatch": 422,
    "amount_mismatch": 422,
    "already_enrolled": 409,
    "already_paid": 409,
    "enrollment_cancelled": 409,
    "duplicate_resident": 409,
}



def _fail(exc: EnrollmentError):
    raise ApiError(ERROR_STATUS.get(exc.code, 422), exc.code, exc.message)


@endpoint(methods=("POST",), scopes=("staff",))
def enrollments_view(request):
    _require_perm(request, "enrollment.add_enrollment")
    body = read_json(request)
    if not isinstance(body, dict):
        raise ApiError(422, "invalid_input", "请求应为 JSON 对象")
    missing = [k for k in ("id_number", "name", "region", "year", "registered_via") if body.get(k) in (None, "")]
    if missing:
        raise ApiError(422, "invalid_input", f"缺少字段：{', '.join(missing)}")
    if body["registered_via"] not in API_VIAS:
        raise ApiError(422, "invalid_input", f"registered_via 应为 {'、'.join(API_VIAS)} 之一")
    year = body["year"]
    if isinstance(year, bool) or not isinstance(year, int):
        raise ApiError(422, "invalid_input", "year 应为整数年份")
    try:
        number = idnumbers.parse(body["id_number"], place_check=False).number
    except idnumbers.IdNumberError as exc:
        raise ApiError(422, "invalid_input", f"id_number: {exc}") from None
    resident = Resident.objects.select_related("region").filter(id_number=number).first()
    if not _visible(request, resident):
        raise ApiError(404, "resident_not_found", "未找到该参保人，请先办理人员登记")
    if str(body["name"]).strip() != resident.name:
        raise ApiError(422, "name_mismatch", "姓名与身份证号码不符")
    region = str(body["region"])
    if region not in (resident.region_id, resident.region.policy_code):
        raise ApiError(422, "region_mismatch",
                       f"参保人的参保地为 {resident.region_id}，与请求的 {region} 不符")
    try:
        e = enrollment_register(resident=resident, year=year, registered_via=RegisteredVia(body["registered_via"]),
                                actor=_actor(request))
    except EnrollmentError as exc:
        _fail(exc)
    e.resident = resident
    return enrollment_json(e), 201


@endpoint(methods=("GET",), scopes=("staff",))
def enrollment_detail_view(request, id_number: str, year: str):
    _require_perm(request, "enrollment.view_enrollment")
    number = idnumbers.normalise(id_number)
    # A string that can never be an ID number (a NUL byte reached PostgreSQL: 500) is the
    # caller's mistake, as on the POST: 422 invalid_input, not 404 not_registered.
    if not ID_SHAPE.fullmatch(number):
        raise ApiError(422, "invalid_input", "id_number: 身份证号码应为 17 位数字加 1 位数字或 X")
    year = int(year) if year.isascii() and year.isdigit() and len(year) <= 4 else None
    if year not in YEARS:
        raise ApiError(422, "invalid_input", f"year: 年度应为 {YEARS[0]} 至 {YEARS[-1]} 之间的整数")
    # the admin's rule: a staff session sees the enrollments of its regions (enrollments_for)
    visible = Enrollment.objects.select_related("resident")
    if request.api_token is None:
        visible = enrollments_for(request.user, visible)
    mine = visible.filter(resident__id_number=number, year=year)
    e = (mine.exclude(status=EnrollmentStatus.CANCELLED).first() or mine.order_by("-id").first())
    if e is None:
        raise ApiError(404, "not_registered", f"未找到 {year} 年度的参保登记")
    return enrollment_json(e), 200
