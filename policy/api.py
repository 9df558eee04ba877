"""POST /api/v1/quote: the quote of INTERFACES.md section 2 over HTTP."""

from django.conf import settings

from accounts.api_auth import endpoint
from core.api import ApiError, read_json

from .quoting import quote_payload

ERROR_STATUS = {"policy_missing": 404, "scheme_not_offered": 404}


@endpoint(methods=("POST",), scopes=("channel", "pool", "staff"))
def quote_view(request):
    if request.api_token is None and not request.user.has_perm("policy.view_policyyear"):
        raise ApiError(403, "forbidden", "没有查看政策年度的权限，不能测算")
    payload = read_json(request)
    cap = settings.API_QUOTE_MAX_ITEMS
    if isinstance(payload, list) and len(payload) > cap:
        raise ApiError(422, "invalid_input",
                       f"一次最多测算 {cap} 条，本次 {len(payload)} 条，请分批提交 (at most {cap} quotes per request)")
    explain = request.GET.get("explain") in ("1", "true")
    cap = request.GET.get("cap_detail") in ("1", "true")
    answer, ok = quote_payload(payload, explain=explain, cap=cap)
    if isinstance(payload, list) or ok:
        return answer, 200
    return answer, ERROR_STATUS.get(answer["error"]["code"], 422)
