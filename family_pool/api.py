"""Family pool endpoints (INTERFACES.md §5, scope ``pool``: the citizen apps). Thin: parse,
call the services of ``networks``, turn PoolError into the contract's error object."""

from __future__ import annotations

from django.http import HttpResponse

from accounts.api_auth import endpoint
from core import clock
from core.api import ApiError, read_json
from enrollment import idnumbers
from enrollment.spreadsheet import has_invisible

from .medical import PURPOSES, settle
from .models import MedicalSettlement, Network
from .networks import (PoolError, member_add, member_edit, member_leave, membership_view, modes_set, network_create,
                       network_dissolve, organizer_view)


def _actor(request):
    return request.user if request.api_token is None else f"api token {request.api_token.name}"


def _fail(exc: PoolError):
    raise ApiError(exc.status, exc.code, exc.message)


def _body(request, fields: tuple[str, ...], optional: tuple[str, ...] = ()) -> dict:
    data = read_json(request)
    if not isinstance(data, dict):
        raise ApiError(422, "invalid_input", "请求体应为 JSON 对象")
    missing = [f for f in fields if f not in data]
    if missing:
        raise ApiError(422, "invalid_input", f"缺少字段：{', '.join(missing)}")
    unknown = sorted(set(data) - set(fields) - set(optional))
    if unknown:
        raise ApiError(422, "invalid_input", f"未知字段：{', '.join(unknown)[:100]}")
    return data


def _text(data: dict, key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip() or len(value) > 100:
        raise ApiError(422, "invalid_input", f"{key} 应为非空字符串")
    if has_invisible(value):  # a NUL in request_id was a 500 (PostgreSQL text holds none)
        raise ApiError(422, "invalid_input", f"{key} 不能含有不可见或控制字符")
    return value.strip()


def _network(network_id: str) -> Network:
    network = None
    if network_id.isascii() and network_id.isdigit() and len(network_id) < 19:
        network = Network.objects.select_related("account").filter(pk=int(network_id)).first()
    if network is None:
        raise ApiError(404, "network_not_found", f"未找到家庭共济网 {network_id[:30]}")
    return network


def _id_number(text: str) -> str:
    try:
        return idnumbers.parse(text).number
    except idnumbers.IdNumberError as exc:
        raise ApiError(422, "invalid_input", f"身份证号码：{exc}") from None


@endpoint(methods=("POST",), scopes=("pool",), staff=False)
def networks_view(request):
    data = _body(request, ("organizer_id_number",), optional=("region",))
    region = data.get("region")
    if region is not None and not isinstance(region, str):
        raise ApiError(422, "invalid_input", "region 应为六位行政区划代码")
    try:
        network = network_create(organizer_id_number=_text(data, "organizer_id_number"), region_code=region,
                                 actor=_actor(request))
    except PoolError as exc:
        _fail(exc)
    return {"network_id": network.pk, "region": network.region_id}, 201


@endpoint(methods=("GET", "DELETE"), scopes=("pool",), staff=False)
def network_detail_view(request, network_id: str):
    """GET: the organizer's view. DELETE: the organizer dissolves the network (every member
    leaves now; the rows are kept) → 204; a dissolved network again → 409 network_dissolved."""
    network = _network(network_id)
    if request.method == "DELETE":
        if network.status == Network.Status.DISSOLVED:
            raise ApiError(409, "network_dissolved", "该家庭共济网已解除")
        try:
            network_dissolve(network=network, actor=_actor(request))
        except PoolError as exc:
            _fail(exc)
        return HttpResponse(status=204)
    return organizer_view(network), 200


@endpoint(methods=("POST",), scopes=("pool",), staff=False)
def members_view(request, network_id: str):
    network = _network(network_id)
    data = _body(request, ("id_number", "relation"))
    try:
        p = member_add(network=network, id_number=_text(data, "id_number"), relation=_text(data, "relation"),
                       actor=_actor(request))
    except PoolError as exc:
        _fail(exc)
    return {"network_id": network.pk, "id_number": p.id_number, "name": p.name, "relation": p.relation}, 201


@endpoint(methods=("DELETE", "PATCH"), scopes=("pool",), staff=False)
def member_detail_view(request, network_id: str, id_number: str):
    """DELETE: the member leaves → 204. PATCH ``{"relation"}``: the organizer corrects the
    member's relation (within the region's set) → 200."""
    network = _network(network_id)
    number = _id_number(id_number)
    if network.status == Network.Status.DISSOLVED:
        raise ApiError(409, "network_dissolved", "该家庭共济网已解除")
    if request.method == "PATCH":
        data = _body(request, ("relation",))
        try:
            p = member_edit(network=network, id_number=number, relation=_text(data, "relation"),
                            actor=_actor(request))
        except PoolError as exc:
            _fail(exc)
        return {"network_id": network.pk, "id_number": p.id_number, "name": p.name, "relation": p.relation}, 200
    try:
        member_leave(network=network, id_number=number, actor=_actor(request))
    except PoolError as exc:
        _fail(exc)
    return HttpResponse(status=204)


@endpoint(methods=("PUT",), scopes=("pool",), staff=False)
def modes_view(request, network_id: str):
    network = _network(network_id)
    data = _body(request, ("medical", "premium"))
    try:
        network = modes_set(network=network, medical=data["medical"], premium=data["premium"],
                            actor=_actor(request))
    except PoolError as exc:
        _fail(exc)
    return {"network_id": network.pk, "modes": {"medical": network.medical_mode, "premium": network.premium_mode}}, 200


def _deduction(id_number: str, year: int):
    """The December deduction for the benefit year, from the batch's module when it exists."""
    try:
        from family_pool.deductions import deduction_view
    except ImportError:
        return None
    return deduction_view(id_number, year, citizen=True, today=clock.today())


@endpoint(methods=("GET",), scopes=("pool",), staff=False)
def membership_view_api(request, id_number: str):
    number = _id_number(id_number)
    view = membership_view(number)
    if view is None:
        raise ApiError(404, "not_a_member", "该人员目前不是任何家庭共济网的共济成员")
    today = clock.today()
    year = today.year + 1 if today.month == 12 else today.year  # December: the coming benefit year
    view["deduction"] = _deduction(number, year)
    return view, 200


def _settlement(s: MedicalSettlement) -> dict:
    return {"settlement_id": s.pk, "request_id": s.request_id, "network_id": s.network_id,
            "id_number": s.member.id_number, "purpose": s.purpose, "cost": f"{s.cost:.2f}",
            "from_own": f"{s.from_own:.2f}", "from_pool": f"{s.from_pool:.2f}", "unpaid": f"{s.unpaid:.2f}",
            "excluded_from_other_schemes": s.excluded_from_other_schemes}


@endpoint(methods=("POST",), scopes=("staff",), staff=True)
def settlements_view(request, network_id: str):
    """共济支付 (the medical settlement system, scope staff): a member's self-paid cost met first
    from an employee member's own historical balance, then from the pool. Idempotent on
    ``request_id``: the same request again → 200 with the first settlement; another request
    under the same id → 409 idempotency_conflict."""
    network = _network(network_id)
    data = _body(request, ("id_number", "request_id", "cost"), optional=("purpose",))
    purpose = data.get("purpose", "medical")
    if purpose not in PURPOSES:
        raise ApiError(422, "invalid_input", f"purpose 应为 {'、'.join(PURPOSES)}")
    cost = data["cost"]
    if not isinstance(cost, str):
        raise ApiError(422, "invalid_input", "cost 应为字符串金额，如 \"120.50\"")
    request_id = _text(data, "request_id")
    existed = MedicalSettlement.objects.filter(request_id=request_id).exists()
    try:
        s = settle(network=network, member_id_number=_text(data, "id_number"), request_id=request_id,
                   cost=cost, purpose=purpose, actor=_actor(request))
    except PoolError as exc:
        _fail(exc)
    return _settlement(s), (200 if existed else 201)
