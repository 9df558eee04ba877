"""Family pool endpoints (INTERFACES.md §5, scope ``pool``: the citizen apps). Thin: parse,
call the services of ``networks``, turn PoolError into the contract's error object."""

from __future__ import annotations

from django.http import HttpResponse

from accounts.api_auth import endpoint
from core import clock
from core.api import ApiError, read_json
from enrollment import idnumbers

from .models import Network
from .networks import PoolError, member_add, member_leave, membership_view, modes_set, network_create, organizer_view


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


@endpoint(methods=("GET",), scopes=("pool",), staff=False)
def network_detail_view(request, network_id: str):
    return organizer_view(_network(network_id)), 200


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


@endpoint(methods=("DELETE",), scopes=("pool",), staff=False)
def member_detail_view(request, network_id: str, id_number: str):
    network = _network(network_id)
    try:
        member_leave(network=network, id_number=_id_number(id_number), actor=_actor(request))
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
