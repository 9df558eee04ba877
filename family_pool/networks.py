"""Family pool networks (POLICY.md §6): create, add and remove members, choose the modes,
dissolve — each one transaction with an audit record and row locks — and the two views
(the organizer's, a member's).

The network's region: where the organizer is employee-insured when that is one of our
regions (a county → the city whose policy it runs, 孝义 → 吕梁); otherwise, in a region
whose policy lets anyone insured in its province organise (宁波: 浙江; 吕梁: 山西), the
region of that province — a ``region_code`` may name it, and must where the province holds
several such regions. The rules followed are ``rules.rules_for`` (the newest published
policy year up to next year).

A person takes part in at most one network at a time (organizer or member): the partial
unique constraint on Participation is the last guard, and its IntegrityError comes back as
``already_in_network`` / ``already_organizer``.
"""

from __future__ import annotations

from datetime import datetime

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone

from core import clock
from core.audit import audit_context
from enrollment import idnumbers
from enrollment.models import EmployeeCoverage, Enrollment, EnrollmentStatus, Resident
from enrollment.selectors import registrations_of
from policy.models import Region
from policy.rules.types import RELATIONS
from policy.selectors import policy_members, policy_region

from .models import AccountStatus, EmployeeAccount, ModeChange, Network, Participation, RegisteredVia
from .rules import (CHILD_RELATIONS, ChildRegistration, OrganizerFacts, PoolRules, PoolRulesMissing,
                    cutoff_passed, organizer_refusal, premium_cancel_deadline, province_prefix, rules_for)

Role = Participation.Role

# HTTP status of each refusal (INTERFACES.md §5 and the others the API may give).
STATUS = {
    "invalid_input": 422, "policy_missing": 404, "network_not_found": 404, "not_a_member": 404,
    "organizer_not_eligible": 422, "already_organizer": 409, "relation_not_allowed": 422,
    "not_insured_in_region": 422, "organizer_cannot_be_member": 422, "already_in_network": 409,
    "cutoff_passed": 422, "mode_not_allowed": 422, "network_dissolved": 409, "mode_not_chosen": 422,
    "idempotency_conflict": 409,
}


class PoolError(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = STATUS.get(code, 422)


def _now(now: datetime | None) -> datetime:
    return now or clock.now()


def _user(actor):
    return actor if isinstance(actor, get_user_model()) and actor.pk is not None else None


def _actor_text(actor) -> str:
    if actor is None:
        return ""
    user = _user(actor)
    return f"user {user.get_username()}" if user else str(actor)[:200]


def _number(text) -> str:
    try:
        return idnumbers.parse(text).number
    except idnumbers.IdNumberError as exc:
        raise PoolError("invalid_input", f"身份证号码：{exc}") from None


def rules_of(region_code: str, today) -> PoolRules:
    try:
        return rules_for(region_code, today)
    except PoolRulesMissing as exc:
        raise PoolError("policy_missing", exc.message) from None


def _lock_network(network) -> Network:
    pk = network.pk if isinstance(network, Network) else network
    found = Network.objects.select_for_update().filter(pk=pk).first()
    if found is None:
        raise PoolError("network_not_found", f"未找到家庭共济网 {pk}")
    if found.status != Network.Status.ACTIVE:
        raise PoolError("network_dissolved", "该家庭共济网已解散")
    return found


# --- create -----------------------------------------------------------------------------

def network_region(insured_region: str, region_code: str | None, today) -> str:
    """The policy region code of the organizer's network (see the module's note)."""
    if region_code:
        found = policy_region(region_code)
        if found is None:
            raise PoolError("invalid_input", f"未知地区 {region_code}")
        return found.code
    own = policy_region(insured_region)
    if own is not None:
        return own.code
    candidates = []
    for code in (Region.objects.filter(code__startswith=province_prefix(insured_region), policy_region__isnull=True)
                 .order_by("code").values_list("code", flat=True)):
        try:
            if rules_for(code, today).organizer_scope == "province":
                candidates.append(code)
        except PoolRulesMissing:
            continue
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        raise PoolError("organizer_not_eligible",
                        f"职工医保参保地 {insured_region} 不在本系统办理家庭共济的地区或其可跨市组建的省内")
    raise PoolError("organizer_not_eligible", f"参保地 {insured_region} 所在省有多个地区可组建，请指定地区")


def network_create(*, organizer_id_number: str, actor, region_code: str | None = None,
                   now: datetime | None = None) -> Network:
    """A new network with the person as organizer (422 organizer_not_eligible with the reason,
    409 already_organizer)."""
    now = _now(now)
    number = _number(organizer_id_number)
    with transaction.atomic(), audit_context(actor, action="pool_network_create"):
        account = EmployeeAccount.objects.select_for_update().filter(id_number=number).first()
        if account is None:
            raise PoolError("organizer_not_eligible", "未找到该人员的职工医保个人账户，组建人须为职工医保参保人")
        if Network.objects.filter(organizer_id_number=number, status=Network.Status.ACTIVE).exists():
            raise PoolError("already_organizer", "该人员已是一个家庭共济网的组建人")
        if Participation.objects.filter(id_number=number, left_at__isnull=True, role=Role.MEMBER).exists():
            raise PoolError("organizer_not_eligible", "该人员是其他家庭共济网的共济成员，须先退出才能组建")
        region = network_region(account.insured_region, region_code, now.date())
        rules = rules_of(region, now.date())
        facts = OrganizerFacts(True, account.status, account.historical_balance, account.insured_region)
        reason = organizer_refusal(facts, rules, policy_members(region))
        if reason:
            raise PoolError("organizer_not_eligible", reason)
        try:
            with transaction.atomic():
                network = Network.objects.create(organizer_id_number=number, organizer_name=account.name,
                                                 account=account, region_id=region, created_at=now)
                Participation.objects.create(network=network, id_number=number, name=account.name,
                                             role=Role.ORGANIZER, joined_at=now)
        except IntegrityError:
            raise PoolError("already_organizer", "该人员已是一个家庭共济网的组建人或成员") from None
    return network


# --- members ----------------------------------------------------------------------------

def member_facts(id_number: str, region: str, today):
    """(insured in the region?, name, the enrollment that makes them so or None)."""
    members = policy_members(region)
    enrollment = (Enrollment.objects.select_related("resident")
                  .filter(resident__id_number=id_number, region_id__in=members, year__gte=today.year)
                  .exclude(status=EnrollmentStatus.CANCELLED).order_by("year", "id").first())
    if enrollment is not None:
        return True, enrollment.resident.name, enrollment
    coverage = (EmployeeCoverage.objects.filter(id_number=id_number, region_code__in=members)
                .exclude(ended_on__lt=today).order_by("-year").first())
    account = EmployeeAccount.objects.filter(id_number=id_number).first()
    if coverage is not None:
        return True, coverage.name, None
    if account is not None and account.insured_region in members:
        return True, account.name, None
    name = (Resident.objects.filter(id_number=id_number).values_list("name", flat=True).first()
            or (account.name if account else ""))
    return False, name, None


_RELATION_BY_NAME = {name: code for code, name in RELATIONS.items()}


def _relation(value, rules) -> str:
    """The relation's code from its code or its Chinese name (配偶, 子女, …), within the
    region's set."""
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        raise PoolError("invalid_input", "请填写与组建人的关系")
    relation = _RELATION_BY_NAME.get(text, text)
    if relation not in RELATIONS or not rules.relation_allowed(relation):
        # not a near relative at all (表亲, friend) is refused as a relation outside the set, too
        shown = RELATIONS.get(relation) or "".join(ch for ch in text[:30] if ch.isprintable())
        raise PoolError("relation_not_allowed",
                        f"{rules.region_name}家庭共济成员限于组建人的{rules.relations_text()}，不含“{shown}”")
    return relation


def member_add(*, network, id_number: str, relation: str, actor, now: datetime | None = None) -> Participation:
    now = _now(now)
    number = _number(id_number)
    with transaction.atomic(), audit_context(actor, action="pool_member_add"):
        network = _lock_network(network)
        rules = rules_of(network.region_id, now.date())
        if number == network.organizer_id_number:
            raise PoolError("organizer_cannot_be_member", "组建人不能作为本共济网的共济成员")
        relation = _relation(relation, rules)
        current = Participation.objects.filter(id_number=number, left_at__isnull=True).first()
        if current is not None and current.role == Role.ORGANIZER:
            raise PoolError("organizer_cannot_be_member", "该人员是另一个家庭共济网的组建人，不能作为共济成员")
        if current is not None:
            raise PoolError("already_in_network", "该人员已加入一个家庭共济网，须先退出才能加入")
        insured, name, enrollment = member_facts(number, network.region_id, now.date())
        if not insured:
            raise PoolError("not_insured_in_region",
                            f"该人员未参加{rules.region_name}职工医保或城乡居民医保，不能作为共济成员")
        via, on = "", None
        if enrollment is not None and relation in CHILD_RELATIONS:
            via = enrollment.registered_via if enrollment.registered_via in RegisteredVia.values else ""
            on = timezone.localtime(enrollment.registered_at).date()
        try:
            with transaction.atomic():
                return Participation.objects.create(network=network, id_number=number, name=name or "",
                                                    role=Role.MEMBER, relation=relation, registered_via=via,
                                                    registered_on=on, joined_at=now)
        except IntegrityError:
            raise PoolError("already_in_network", "该人员已加入一个家庭共济网，须先退出才能加入") from None


def member_leave(*, network, id_number: str, actor, now: datetime | None = None) -> Participation:
    """A member leaves (or the organizer removes them); the row stays with its left_at."""
    now = _now(now)
    number = _number(id_number)
    with transaction.atomic(), audit_context(actor, action="pool_member_leave"):
        network = _lock_network(network)
        p = (Participation.objects.select_for_update()
             .filter(network=network, id_number=number, role=Role.MEMBER, left_at__isnull=True).first())
        if p is None:
            raise PoolError("not_a_member", "该人员不是本共济网的共济成员")
        p.left_at = now
        p.save(update_fields=["left_at"])
        return p


def member_edit(*, network, id_number: str, relation: str, actor, now: datetime | None = None) -> Participation:
    """The organizer corrects a member's relation (within the region's set)."""
    now = _now(now)
    number = _number(id_number)
    with transaction.atomic(), audit_context(actor, action="pool_member_edit"):
        network = _lock_network(network)
        relation = _relation(relation, rules_of(network.region_id, now.date()))
        p = (Participation.objects.select_for_update()
             .filter(network=network, id_number=number, role=Role.MEMBER, left_at__isnull=True).first())
        if p is None:
            raise PoolError("not_a_member", "该人员不是本共济网的共济成员")
        p.relation = relation
        p.save(update_fields=["relation"])
        return p


# --- modes ------------------------------------------------------------------------------

def registrations_for_year(network: Network, year: int) -> dict[str, ChildRegistration]:
    """How each current child member was registered for benefit year ``year`` (登记方式 and
    the day), read from their live enrollment of that year when asked — a child registers anew
    every year, and a member whose relation was corrected to a child counts from then on; the
    ``Participation`` columns keep only what held when the member joined.  A child with no
    live enrollment of that year is absent (no deadline of its own)."""
    numbers = list(network.participations.filter(role=Role.MEMBER, left_at__isnull=True,
                                                  relation__in=CHILD_RELATIONS).values_list("id_number", flat=True))
    if not numbers:
        return {}
    rows = registrations_of(numbers, year, policy_members(network.region_id))
    return {number: ChildRegistration(via if via in RegisteredVia.values else "", timezone.localtime(at).date())
            for number, (via, at) in rows.items()}


def premium_deadline(network: Network, rules: PoolRules) -> datetime | None:
    """The network's 共济缴费 cancellation deadline: its children's registrations for the
    benefit year the rules are about."""
    return premium_cancel_deadline(rules, list(registrations_for_year(network, rules.year).values()))


def modes_set(*, network, medical: bool, premium: bool, actor, now: datetime | None = None) -> Network:
    """The organizer's choice of 共济支付 / 共济缴费; a change writes a ModeChange (the same
    modes again changes nothing). Only modes the region's policy offers; turning 共济缴费 off
    after the cancellation deadline → cutoff_passed."""
    now = _now(now)
    if not isinstance(medical, bool) or not isinstance(premium, bool):
        raise PoolError("invalid_input", "medical、premium 应为 true 或 false")
    with transaction.atomic(), audit_context(actor, action="pool_modes_set"):
        network = _lock_network(network)
        if (network.medical_mode, network.premium_mode) == (medical, premium):
            return network
        rules = rules_of(network.region_id, now.date())
        if medical and not network.medical_mode and not rules.medical_payment:
            raise PoolError("mode_not_allowed", f"{rules.region_name}的家庭共济不提供共济支付（医疗费用）")
        if premium and not network.premium_mode and not rules.premium_payment:
            raise PoolError("mode_not_allowed", f"{rules.region_name}的家庭共济不提供共济缴费")
        if network.premium_mode and not premium:
            deadline = premium_deadline(network, rules)
            if cutoff_passed(deadline, now):
                shown = timezone.localtime(deadline).strftime("%Y-%m-%d %H:%M")
                raise PoolError("cutoff_passed", f"取消共济缴费的期限（{shown}）已过，不能再取消")
        network.medical_mode, network.premium_mode = medical, premium
        network.save(update_fields=["medical_mode", "premium_mode"])
        ModeChange.objects.create(network=network, medical_mode=medical, premium_mode=premium, changed_at=now,
                                  changed_by=_user(actor), actor=_actor_text(actor))
        return network


def network_dissolve(*, network, actor, now: datetime | None = None) -> Network:
    """The organizer dissolves the network: every participation ends now; rows are kept."""
    now = _now(now)
    with transaction.atomic(), audit_context(actor, action="pool_network_dissolve"):
        network = _lock_network(network)
        network.participations.filter(left_at__isnull=True).update(left_at=now)
        network.status, network.dissolved_at = Network.Status.DISSOLVED, now
        network.save(update_fields=["status", "dissolved_at"])
        return network


# --- views (reads) ----------------------------------------------------------------------

def _money(value) -> str:
    return f"{value:.2f}"


def organizer_view(network: Network, now: datetime | None = None) -> dict:
    """The organizer's view.  A child member's ``registered_via`` / ``registered_on`` are its
    registration for the benefit year whose rules hold now (the one its cancellation deadline
    reads), null when it has none yet; other members' are null."""
    members = network.participations.filter(role=Role.MEMBER, left_at__isnull=True).order_by("joined_at", "id")
    try:
        registered = registrations_for_year(network, rules_for(network.region_id, _now(now).date()).year)
    except PoolRulesMissing:
        registered = {}

    def member(p: Participation) -> dict:
        reg = registered.get(p.id_number)
        return {"id_number": p.id_number, "name": p.name, "relation": p.relation,
                "registered_via": (reg.via or None) if reg else None,
                "registered_on": reg.on.isoformat() if reg and reg.on else None,
                "joined_at": timezone.localtime(p.joined_at).isoformat()}

    return {
        "network_id": network.pk, "region": network.region_id, "status": network.status,
        "organizer": {"id_number": network.organizer_id_number, "name": network.organizer_name},
        "members": [member(p) for p in members],
        "modes": {"medical": network.medical_mode, "premium": network.premium_mode},
        "pool_balance": _money(network.account.historical_balance),
    }


def membership_view(id_number: str) -> dict | None:
    """What a member sees: the organizer (name, masked ID) and self — never other members."""
    p = (Participation.objects.select_related("network")
         .filter(id_number=id_number, role=Role.MEMBER, left_at__isnull=True).first())
    if p is None:
        return None
    n = p.network
    return {
        "network_id": n.pk, "region": n.region_id,
        "organizer": {"name": n.organizer_name, "id_number": idnumbers.mask(n.organizer_id_number)},
        "self": {"id_number": p.id_number, "name": p.name, "relation": p.relation,
                 "joined_at": timezone.localtime(p.joined_at).isoformat()},
        "modes": {"medical": n.medical_mode, "premium": n.premium_mode},
    }


def account_is_usable(account: EmployeeAccount | None) -> bool:
    return account is not None and account.status == AccountStatus.NORMAL
