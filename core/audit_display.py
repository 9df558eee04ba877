"""The audit trail as people read it (issue 12, item 4): who, when (Asia/Shanghai), which record,
what kind of change and each field's before → after, all in plain Chinese — field names from
the tracked model's verbose names, values through its choices, times in local time, ID numbers
masked.  Shared by the resident page's 变更记录 and the auditor's event list."""

from __future__ import annotations

import re
from datetime import datetime

from django.apps import apps
from django.core.exceptions import FieldDoesNotExist
from django.utils import timezone
from django.utils.dateparse import parse_datetime

EVENT_LABELS = {"insert": "新增", "update": "修改", "delete": "删除", "snapshot": "快照"}

# What the acting code was doing (audit_context(action=...)); an unknown one reads 其他操作.
ACTIONS = {
    "enrollment_register": "登记参保", "register_for_year": "登记参保", "enrollment_cancel": "注销登记",
    "enrollment_cancel_paid": "注销已缴费登记", "cancel_with_reason": "注销登记",
    "enrollment_record_payment": "记录缴费", "payment_record": "记录缴费", "back_payment_record": "补缴记录",
    "gap_repair_record": "断保补缴", "payment_carry_over": "缴费结转", "resident_create": "新增参保人",
    "resident_update": "修改参保人", "renew_enrollments": "默认续保", "start_default_renewal": "默认续保",
    "import_residents": "导入参保人", "import_employee_coverage": "导入职工医保参保记录",
    "import_payments": "导入缴费", "import_roster": "导入资助名单", "import_employee_accounts": "导入职工个人账户",
    "queue_owed_refunds": "生成应退费", "college_leaver_refund": "大学生离校退费", "refund_request": "申请退费", "refund_request_again": "再次申请退费",
    "refund_decide": "审核退费", "refund_pay": "退费支付", "settle_accounts": "账户结算",
    "pool_batch": "家庭共济年度批处理", "pool_medical_settle": "共济支付结算", "pool_member_add": "共济成员加入",
    "pool_member_edit": "共济成员修改", "pool_member_leave": "共济成员退出", "pool_modes_set": "共济方式设置",
    "pool_network_create": "建立家庭共济网", "pool_network_dissolve": "解散家庭共济网",
    "policy_year_publish": "发布政策年度", "policy_year_unpublish": "政策年度退回草稿",
    "clone_policy_year": "复制政策年度", "load_policies": "载入政策", "load_demo": "载入演示数据",
    "seed_workdays": "载入工作日日历", "login_success": "登录", "login_lock_release": "解除登录锁定",
    "password_change": "修改密码", "api_token_create": "创建接口令牌",
    "api_token_revoke": "吊销接口令牌", "revoke": "吊销", "cleanup": "清理",
    # issue 13: leaving another scheme, documents and agents, newborns, zero-claim years, the
    # flexible-employment scheme
    "scheme_exit_record": "登记退出其他制度保障", "scheme_exit_remove": "删除退出其他制度保障记录",
    "registration_agent_record": "登记代办人", "registration_agent_remove": "删除代办人",
    "registration_document_record": "登记已查验材料", "registration_document_remove": "删除已查验材料",
    "enrollment_register_newborn": "外地新生儿凭父母居住证登记", "zero_claim_record": "登记零报销年度",
    "zero_claim_correct": "更正零报销年度", "zero_claim_withdraw": "撤销零报销年度",
    "import_zero_claims": "导入零报销名单",
    "flexible_enroll": "灵活就业人员参保登记", "flexible_record_payment": "灵活就业人员缴费",
    "flexible_cancel": "灵活就业人员注销登记", "flexible_cancel_paid": "灵活就业人员注销已缴费登记并申请退费",
}

SKIPPED = {"updated_at", "imported_at"}  # bookkeeping, not a change a person made
_ID_NUMBER = re.compile(r"\b(\d{6})\d{8}(\d{3}[\dX])\b")


def mask_ids(text: str) -> str:
    """Every 18-character ID number in ``text`` shown masked (110105********002X)."""
    return _ID_NUMBER.sub(lambda m: f"{m.group(1)}********{m.group(2)}", text)


def tracked_model(label: str):
    try:
        return apps.get_model(label)
    except (LookupError, ValueError):
        return None


def model_name(label: str) -> str:
    model = tracked_model(label)
    return str(model._meta.verbose_name) if model is not None else "其他记录"


def field_name(model, field: str) -> str:
    f = _field(model, field)
    return str(f.verbose_name) if f is not None else "其他字段"


def value_text(model, field: str, value) -> str:
    """A stored value as a person reads it: 空, 是/否, a choice's label, a local time."""
    if value is None or value == "":
        return "空"
    if isinstance(value, bool):
        return "是" if value else "否"
    f = _field(model, field)
    if f is not None and f.choices:
        return str(dict(f.flatchoices).get(value, value))
    if isinstance(value, str) and "T" in value and value[:4].isdigit():
        parsed = parse_datetime(value)
        if parsed is not None:
            return local_time(parsed)
    if isinstance(value, datetime):
        return local_time(value)
    if isinstance(value, (dict, list)):
        return "（明细）"
    return mask_ids(str(value))


def _field(model, name: str):
    if model is None:
        return None
    for candidate in (name, name[:-3] if name.endswith("_id") else None):
        if candidate:
            try:
                return model._meta.get_field(candidate)
            except FieldDoesNotExist:
                continue
    return None


def local_time(value: datetime) -> str:
    if timezone.is_naive(value):
        value = timezone.make_aware(value, timezone.get_default_timezone())
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S")


def who(context: dict | None) -> str:
    ctx = context or {}
    return ctx.get("username") or ctx.get("actor") or (f"用户 #{ctx['user']}" if ctx.get("user") else "系统")


def action_text(context: dict | None) -> str:
    action = (context or {}).get("action", "")
    return ACTIONS.get(action, "其他操作") if action else "—"


def changes(label: str, event_label: str, diff: dict | None, data: dict | None) -> list[tuple[str, str, str]]:
    """(field, before, after) in Chinese.  An update lists its diff; an insert its filled fields."""
    model = tracked_model(label)
    out = []
    if diff:
        for field, (before, after) in diff.items():
            if field in SKIPPED:
                continue
            out.append((field_name(model, field), value_text(model, field, before), value_text(model, field, after)))
    elif event_label == "insert" and data:
        for field, value in data.items():
            if field in SKIPPED or field == "id" or value in (None, "", False):
                continue
            out.append((field_name(model, field), "", value_text(model, field, value)))
    return out


def changes_text(rows) -> str:
    return "；".join(f"{name}：{before} → {after}" if before else f"{name}：{after}" for name, before, after in rows)
