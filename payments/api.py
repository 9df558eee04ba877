"""Payment channel endpoints (INTERFACES.md section 5, scope ``channel``).

The dues query and the payment post take an optional ``scheme``: ``resident`` (the default,
every existing caller) or a scheme registered with ``payments.schemes`` —
``flexible_employment`` (灵活就业人员医疗保险).  Same idempotency, codes and statuses; the
amount due is the scheme's rule at the date (dues: today; a payment: its ``paid_at``)."""

from __future__ import annotations

from django.utils import timezone

from accounts.api_auth import endpoint
from core import clock
from core.api import ApiError, json_response, read_json
from enrollment import idnumbers
from enrollment.models import EnrollmentStatus, Resident
from enrollment.selectors import quote_request_of, year_enrollment
from enrollment.services import EnrollmentError, run_quote, spec_for
from enrollment.spreadsheet import has_invisible
from policy.selectors import pool_results_on

from .schemes import RESIDENT, scheme_codes, scheme_handler
from .services import API_CHANNELS, PaymentError, channel_code, check_channel_rules, parse_amount, parse_paid_at, \
    payment_record, request_hash

# HTTP status of each refusal (the contract's, and the others the API may give).
STATUS = {
    "invalid_input": 422, "not_registered": 404, "name_mismatch": 422, "amount_mismatch": 422,
    "payment_day_not_allowed": 422, "window_not_open": 422, "window_closed": 422, "not_eligible": 422,
    "value_not_in_source": 422, "policy_missing": 404, "region_mismatch": 422, "workday_unknown": 422,
    "already_paid": 409, "idempotency_conflict": 409, "enrollment_cancelled": 409,
    "not_a_break_year": 422, "back_payment_not_applicable": 422, "scheme_not_offered": 404,
}
PAYMENT_FIELDS = ("channel", "txn_id", "id_number", "name", "year", "amount", "paid_at")
YEARS = range(1900, 2201)


def canonical_hash(endpoint: str, *, channel, txn_id, id_number, name, year, amount, paid_at, **more) -> str:
    """The request's meaning, not its spelling: the same payment retried with another time
    offset, "400" for "400.00", spaces around the name or a lower-case x is the same request;
    the endpoint is part of it (a payment and a back-payment never answer for each other)."""
    from datetime import timezone as tz

    try:
        number = idnumbers.parse(id_number, place_check=False).number
    except idnumbers.IdNumberError:
        number = str(id_number)
    fields = {"endpoint": endpoint, "channel": channel, "txn_id": str(txn_id).strip(), "id_number": number,
              "name": str(name).strip(), "year": year, "amount": f"{amount:.2f}",
              "paid_at": paid_at.astimezone(tz.utc).isoformat()}
    for key, value in more.items():
        if value not in (None, {}, 1) or key == "course_years" and value != 1:
            fields[key] = value
    return request_hash(fields)


def _fail(exc: EnrollmentError):
    raise ApiError(STATUS.get(exc.code, 422), exc.code, exc.message)


def _year(value) -> int:
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 4:
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value not in YEARS:
        raise ApiError(422, "invalid_input", "year 应为四位年份")
    return value


def _actor(request):
    return request.user if request.api_token is None else f"api token {request.api_token.name}"


def _money(value) -> str:
    return f"{value:.2f}"


def _scheme(value):
    """The optional ``scheme``: absent or null → resident; else one of the registered codes."""
    if value is None or value == "":
        return RESIDENT
    if not isinstance(value, str) or value not in scheme_codes():
        raise ApiError(422, "invalid_input", f"scheme 应为 {'、'.join(scheme_codes())} 之一")
    return value


def _scheme_dues(handler, number: str, name: str, year: int):
    """The dues answer of another scheme (payments.schemes): priced at today by its rule."""
    found = handler.find(number, year, lock=False)
    if found is None:
        raise ApiError(404, "not_registered", "未找到该参保人的参保登记")
    person_name, e = found
    if name.strip() != person_name:
        raise ApiError(422, "name_mismatch", "姓名与身份证号码不符")
    if e is None:
        raise ApiError(404, "not_registered", f"未找到 {year} 年度的{handler.label}登记，请先登记参保")
    out = {"name": person_name, "region": e.region_id, "year": year, "scheme": handler.code, "category": e.category}
    if e.paid:
        return {**out, "amount_due": _money(e.paid_amount if e.paid_amount is not None else e.amount_due),
                "status": "paid"}, 200
    today = clock.today()
    try:
        check_channel_rules(spec_for(e.region_id, year), "", today)
        due = handler.price(e, today)
    except EnrollmentError as exc:
        _fail(exc)
    return {**out, "amount_due": _money(due.amount_due), "status": "unpaid"}, 200


@endpoint(methods=("GET",), scopes=("channel",), staff=False)
def dues_view(request):
    """What a person owes for a benefit year, priced at today's date (never read from a
    stored amount): 404 not_registered, 422 name_mismatch, or the rules' refusal of today.
    ``scheme=flexible_employment``: the person's flexible-employment enrollment instead."""
    q = request.GET
    missing = [k for k in ("id_number", "name", "year") if not q.get(k, "").strip()]
    if missing:
        raise ApiError(422, "invalid_input", f"缺少参数：{', '.join(missing)}")
    year = _year(q["year"])
    scheme = _scheme(q.get("scheme"))
    try:
        number = idnumbers.parse(q["id_number"], place_check=False).number
    except idnumbers.IdNumberError as exc:
        raise ApiError(422, "invalid_input", f"id_number: {exc}") from None
    if scheme != RESIDENT:
        return _scheme_dues(scheme_handler(scheme), number, q["name"], year)
    found = year_enrollment(number, year)  # the resident and the year's enrollment: one statement
    if found is None:
        raise ApiError(404, "not_registered", "未找到该参保人的参保登记")
    if q["name"].strip() != found.name:
        raise ApiError(422, "name_mismatch", "姓名与身份证号码不符")
    if found.enrollment_id is None:
        raise ApiError(404, "not_registered", f"未找到 {year} 年度的参保登记，请先登记参保")
    out = {"name": found.name, "region": found.region_id, "year": year, "category": found.category}
    if found.status == EnrollmentStatus.PAID:
        return {**out, "amount_due": _money(found.paid_amount if found.paid_amount is not None
                                            else found.amount_due), "status": "paid"}, 200
    today = clock.today()
    try:
        spec = spec_for(found.region_id, year)
        check_channel_rules(spec, "", today)
        result = run_quote(spec, quote_request_of(found.facts, year, today))
    except EnrollmentError as exc:
        _fail(exc)
    return {**out, "category": result.category, "amount_due": _money(result.amount_due), "status": "unpaid"}, 200


@endpoint(methods=("POST",), scopes=("channel",), staff=False)
def payments_view(request):
    body = read_json(request)
    if not isinstance(body, dict):
        raise ApiError(422, "invalid_input", "请求应为 JSON 对象")
    missing = [k for k in PAYMENT_FIELDS if body.get(k) in (None, "")]
    if missing:
        raise ApiError(422, "invalid_input", f"缺少字段：{', '.join(missing)}")
    unknown = sorted(set(body) - set(PAYMENT_FIELDS) - {"payer", "course_years", "scheme"})
    if unknown:
        raise ApiError(422, "invalid_input", f"未知字段：{', '.join(unknown)[:100]}")
    channel = channel_code(body["channel"])
    if channel is None or channel not in API_CHANNELS:
        raise ApiError(422, "invalid_input", f"channel 应为 {'、'.join(API_CHANNELS)} 之一")
    if not isinstance(body["txn_id"], str) or not isinstance(body["id_number"], str) or not isinstance(
            body["name"], str):
        raise ApiError(422, "invalid_input", "txn_id、id_number、name 应为字符串")
    payer = body.get("payer") or {}
    if not isinstance(payer, dict) or not all(isinstance(v, str) for v in payer.values()):
        raise ApiError(422, "invalid_input", "payer 应为对象：{\"kind\", \"id\", \"name\"}")
    if any(has_invisible(v) for v in payer.values()):  # a NUL was a 500; bidi marks would be stored
        raise ApiError(422, "invalid_input", "payer 的 id、name 不能含有不可见或控制字符")
    payer_kind = payer.get("kind", "self")
    if payer_kind not in ("self", "other_person", "collector", "department", "pool"):
        raise ApiError(422, "invalid_input", "payer.kind 应为 self、other_person、collector、department、pool 之一")
    scheme = _scheme(body.get("scheme"))
    try:
        year = _year(body["year"])
        amount = parse_amount(body["amount"])
        paid_at = parse_paid_at(body["paid_at"])
        course_years = body.get("course_years", 1)
        recorded = payment_record(
            channel=channel, txn_id=body["txn_id"], id_number=body["id_number"], name=body["name"], year=year,
            amount=amount, paid_at=paid_at, actor=_actor(request), payer_kind=payer_kind,
            payer_id=payer.get("id", ""), payer_name=payer.get("name", ""),
            course_years=course_years, scheme=scheme,
            # the scheme is part of the request only when it is not the default: a resident
            # payment hashes as it always did, so a retry across this change is still a retry
            body_hash=canonical_hash("payments", channel=channel, txn_id=body["txn_id"],
                                     id_number=body["id_number"], name=body["name"], year=year, amount=amount,
                                     paid_at=paid_at, payer=payer, course_years=course_years,
                                     scheme=None if scheme == RESIDENT else scheme))
    except EnrollmentError as exc:
        _fail(exc)
    return json_response(recorded.body, recorded.status)


def _record_status(p) -> str:
    """deposited / refunded / partly_refunded / duplicate_refund_queued — never an amount."""
    from .certificates import net_amount

    if p.refunds.exists():
        return "refunded" if net_amount(p) <= 0 else "partly_refunded"
    return "duplicate_refund_queued" if p.outcome == "duplicate" else "deposited"


@endpoint(methods=("GET",), scopes=("channel", "pool"), staff=False)
def payment_records_view(request):
    """A resident's own query of their payment records (缴费入库记录查询, 003 §五): the time
    each payment was deposited, never the amount; a bank-channel record shows only from the
    region's delay in working days after the payment (Lüliang: 5) — until then it says so."""
    from core import workdays

    from .models import Payment

    q = request.GET
    missing = [k for k in ("id_number", "name", "year") if not q.get(k, "").strip()]
    if missing:
        raise ApiError(422, "invalid_input", f"缺少参数：{', '.join(missing)}")
    year = _year(q["year"])
    try:
        number = idnumbers.parse(q["id_number"], place_check=False).number
    except idnumbers.IdNumberError as exc:
        raise ApiError(422, "invalid_input", f"id_number: {exc}") from None
    resident = Resident.objects.filter(id_number=number).first()
    if resident is None:
        raise ApiError(404, "not_registered", "未找到该参保人的参保登记")
    if q["name"].strip() != resident.name:
        raise ApiError(422, "name_mismatch", "姓名与身份证号码不符")
    today = clock.today()
    records, pending, unknown, pool_from, pool_pending = [], 0, set(), None, 0
    for p in Payment.objects.filter(id_number=number, year=year, kind=Payment.Kind.PAYMENT).order_by("paid_at"):
        if p.channel == "family_pool":
            # a pool deduction shows to the citizen from the region's results date (Shanghai 12-28,
            # INTERFACES.md §6), as the member's pool view does ("processing" before); unset: hidden
            shown_from = pool_results_on(p.region_id, year)
            if shown_from is None or today < shown_from:
                pending, pool_pending = pending + 1, pool_pending + 1
                pool_from = shown_from or "unset"
                continue
        delay = None
        if p.channel == "bank":
            try:
                delay = spec_for(p.region_id, year).bank_record_delay_working_days
            except EnrollmentError:
                delay = None
        if delay:
            try:
                visible_from = workdays.add_workdays(p.paid_on, delay)
            except workdays.WorkdayUnknown as exc:
                # the day it shows cannot be told until that year's holidays are entered: the
                # record stays hidden (never shown early), and the others are still answered
                unknown.add(exc.year)
                pending += 1
                continue
            if today < visible_from:
                pending += 1
                continue
        records.append({"channel": p.channel, "deposited_at": timezone.localtime(p.paid_at).isoformat(),
                        "status": _record_status(p)})
    note = "银行渠道缴费成功五个工作日后方可查询到入库记录" if pending > pool_pending else ""
    if pool_from is not None:
        note += ("；" if note else "") + ("家庭共济扣款结果公布日未设定，暂不能查询扣款记录" if pool_from == "unset"
                                         else f"家庭共济扣款结果自 {pool_from:%Y-%m-%d} 起可查询")
    if unknown:
        years = "、".join(str(y) for y in sorted(unknown))
        note += f"（{years} 年节假日安排尚未录入，暂无法确定可查询日期）"
    return {"name": resident.name, "year": year, "records": records, "not_yet_visible": pending,
            "note": note}, 200


def _person(q_or_body) -> Resident:
    try:
        number = idnumbers.parse(q_or_body["id_number"], place_check=False).number
    except idnumbers.IdNumberError as exc:
        raise ApiError(422, "invalid_input", f"id_number: {exc}") from None
    resident = Resident.objects.filter(id_number=number).first()
    if resident is None:
        raise ApiError(404, "not_registered", "未找到该参保人的参保登记")
    if str(q_or_body["name"]).strip() != resident.name:
        raise ApiError(422, "name_mismatch", "姓名与身份证号码不符")
    return resident


@endpoint(methods=("GET", "POST"), scopes=("channel",), staff=False)
def back_payments_view(request):
    """断保补缴: GET ?id_number=&name=&year= → what making up a break year costs;
    POST {channel, txn_id, id_number, name, year, amount, paid_at} → 201 recorded, the year
    repaired for the waiting rules (payments.backpay)."""
    from .backpay import back_payment_amount, back_payment_record

    if request.method == "GET":
        q = request.GET
        missing = [k for k in ("id_number", "name", "year") if not q.get(k, "").strip()]
        if missing:
            raise ApiError(422, "invalid_input", f"缺少参数：{', '.join(missing)}")
        year = _year(q["year"])
        resident = _person(q)
        try:
            amount = back_payment_amount(resident, year)
        except EnrollmentError as exc:
            _fail(exc)
        return {"name": resident.name, "year": year, "amount_due": _money(amount), "status": "break_year"}, 200
    body = read_json(request)
    if not isinstance(body, dict):
        raise ApiError(422, "invalid_input", "请求应为 JSON 对象")
    missing = [k for k in PAYMENT_FIELDS if body.get(k) in (None, "")]
    if missing:
        raise ApiError(422, "invalid_input", f"缺少字段：{', '.join(missing)}")
    unknown = sorted(set(body) - set(PAYMENT_FIELDS))
    if unknown:
        raise ApiError(422, "invalid_input", f"未知字段：{', '.join(unknown)[:100]}")
    channel = channel_code(body["channel"])
    if channel is None or channel not in API_CHANNELS:
        raise ApiError(422, "invalid_input", f"channel 应为 {'、'.join(API_CHANNELS)} 之一")
    if not all(isinstance(body[k], str) for k in ("txn_id", "id_number", "name")):
        raise ApiError(422, "invalid_input", "txn_id、id_number、name 应为字符串")
    try:
        year = _year(body["year"])
        amount = parse_amount(body["amount"])
        paid_at = parse_paid_at(body["paid_at"])
        resident = _person(body)
        recorded = back_payment_record(
            resident=resident, year=year, amount=amount, channel=channel, txn_id=body["txn_id"], paid_at=paid_at,
            actor=_actor(request),
            body_hash=canonical_hash("back-payments", channel=channel, txn_id=body["txn_id"],
                                     id_number=resident.id_number, name=resident.name, year=year, amount=amount,
                                     paid_at=paid_at))
    except EnrollmentError as exc:
        _fail(exc)
    return json_response(recorded.body, recorded.status)
