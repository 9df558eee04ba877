"""Documents and agents of a registration (000 §2, Ningbo).

What the source says a counter registration needs:

- "可持本人身份证或社会保障卡原件至户籍所在地（非本市户籍人员持规定的材料至居住地）…办理参保手续，
  由他人代办的，需同时携带代办人身份证" — the person's ID card or social-security card; an
  agent's ID card when someone else registers for them;
- "居住在本市的非本市户籍人员可持本市有效居住证参加" — a non-local person: the residence permit;
- "非本市户籍0-6个月新生儿 … 可由父母一方持户口本和本市有效居住证为其办理 … 如新生儿与父母未登记在
  同一户口的，还需同时提供出生医学证明" — the household register and the parent's permit, and the
  birth certificate when the baby is not in the parents' household register;
- "持本市签发的港澳台居民居住证的港、澳、台人员", "持外国人永久居留身份证件的外国人" — their permit
  or card.

Who is who is read from the resident: ``hukou``; an ID number starting 81/82/83 is a Hong Kong /
Macao / Taiwan residence permit's (GB 11643 numbers of 港澳台居民居住证), one starting 9 a foreign
permanent resident's (外国人永久居留身份证, 2023 edition); the parent-permit newborn from the
registration (``nonlocal_via_parent_permit`` and its ``NewbornParentLink``).

Registrations made online (浙里办), by the school ("根据学校统一安排") or by default renewal
("无需重新办理参保手续") see no paper at a counter: no checklist.  Whether a region's source lists
the documents at all is policy data (``registration_documents_listed`` of the policy year, read
through ``policy.selectors.registration_documents_listed``; only Ningbo's 000 §2 does); elsewhere
the checklist is empty and says so (never a list invented for a region).

Missing documents do not block the registration (README, "Documents and agents"): the
registration shows what is missing, in words, until a caseworker records them as seen.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from .models import DocumentKind, Hukou, RegisteredVia

COUNTER = frozenset({RegisteredVia.COMMUNITY, RegisteredVia.COUNTER, RegisteredVia.NEWBORN})

NO_PAPER = {
    RegisteredVia.ONLINE: "网上办理，无需查验纸质材料",
    RegisteredVia.SCHOOL: "学校统一办理，无需查验纸质材料",
    RegisteredVia.DEFAULT_RENEWAL: "默认续保，无需重新办理参保手续",
}


def holder_kind(id_number: str) -> str:
    """"hmt" (港澳台居民居住证 number), "foreigner" (外国人永久居留身份证) or "citizen"."""
    if id_number[:2] in ("81", "82", "83"):
        return "hmt"
    if id_number[:1] == "9":
        return "foreigner"
    return "citizen"


def required_documents(*, id_number: str, hukou: str, via_parent_permit: bool = False,
                       same_household: bool = True, parent_nonlocal: bool = True,
                       has_agent: bool = False) -> tuple[str, ...]:
    """The documents a counter registration needs under 000 §2 (pure)."""
    kind = holder_kind(id_number)
    if via_parent_permit:
        needed = [DocumentKind.HUKOU_BOOK]
        if parent_nonlocal:
            needed.append(DocumentKind.PARENT_RESIDENCE_PERMIT)
        if not same_household:
            needed.append(DocumentKind.BIRTH_CERTIFICATE)
    elif kind == "hmt":
        needed = [DocumentKind.HMT_RESIDENCE_PERMIT]
    elif kind == "foreigner":
        needed = [DocumentKind.FOREIGNER_PERMANENT_RESIDENCE]
    elif hukou == Hukou.LOCAL:
        needed = [DocumentKind.ID_CARD]
    else:
        needed = [DocumentKind.ID_CARD, DocumentKind.RESIDENCE_PERMIT]
    if has_agent:
        needed.append(DocumentKind.AGENT_ID_CARD)
    return tuple(str(k) for k in needed)


@dataclass(frozen=True)
class Seen:
    kind: str
    number: str
    seen_by: str
    seen_at: datetime


@dataclass(frozen=True)
class Checklist:
    required: tuple[str, ...]
    seen: dict  # kind -> Seen
    note: str  # why there is no list, or ""

    @property
    def missing(self) -> tuple[str, ...]:
        return tuple(k for k in self.required if k not in self.seen)

    @property
    def complete(self) -> bool:
        return not self.missing

    def summary(self) -> str:
        """One sentence in plain Chinese."""
        if self.note:
            return self.note
        if self.complete:
            return "材料已齐：" + "、".join(DocumentKind(k).label for k in self.required)
        return "材料未齐，缺：" + "、".join(DocumentKind(k).label for k in self.missing)


def checklist(enrollment) -> Checklist:
    """The checklist of one registration: required (from the person's situation), seen, missing."""
    from policy.selectors import registration_documents_listed

    from .models import NewbornParentLink, RegistrationAgent, RegistrationDocument

    resident = enrollment.resident
    seen = {}
    for d in RegistrationDocument.objects.filter(enrollment=enrollment).select_related("seen_by").order_by("id"):
        who = (d.seen_by.get_full_name() or d.seen_by.get_username()) if d.seen_by else "—"
        seen[d.kind] = Seen(d.kind, d.number, who, d.seen_at)
    if enrollment.registered_via in NO_PAPER:
        return Checklist((), seen, NO_PAPER[enrollment.registered_via])
    if not registration_documents_listed(enrollment.region_id, enrollment.year):
        return Checklist((), seen, "来源文件未列出该地区参保登记所需材料")
    link = NewbornParentLink.objects.filter(enrollment=enrollment).select_related("parent").first()
    required = required_documents(
        id_number=resident.id_number, hukou=resident.hukou,
        via_parent_permit=enrollment.nonlocal_via_parent_permit,
        same_household=link.same_household if link else True,
        parent_nonlocal=link.parent.hukou != Hukou.LOCAL if link else True,
        has_agent=RegistrationAgent.objects.filter(enrollment=enrollment).exists())
    return Checklist(required, seen, "")


# --- writes (one transaction each, audited) ------------------------------------------------------


def _live(enrollment):
    from .models import Enrollment, EnrollmentStatus
    from .services import EnrollmentError

    e = Enrollment.objects.select_for_update().select_related("resident").get(pk=enrollment.pk)
    if e.status == EnrollmentStatus.CANCELLED:
        raise EnrollmentError("enrollment_cancelled", f"{e.year} 年度登记已注销，不能再登记材料或代办人")
    return e


def _clean_number(number: str, what: str) -> str:
    from .services import EnrollmentError
    from .spreadsheet import has_invisible

    number = (number or "").strip()
    if len(number) > 50 or has_invisible(number):
        raise EnrollmentError("invalid_input", f"{what}过长或含有不可见字符")
    return number


def validate_document(*, kind, number="") -> None:
    from .services import EnrollmentError

    if kind not in DocumentKind.values:
        raise EnrollmentError("invalid_input", "请选择材料名称")
    _clean_number(number, "证件编号")


def registration_document_record(*, enrollment, kind: str, actor, number: str = ""):
    """Record that a caseworker saw a document of a registration (who: the actor; when: now).
    A kind already recorded is refused (``duplicate``)."""
    from django.db import transaction

    from core import clock
    from core.audit import audit_context
    from core.audit_actor import acting_user

    from .models import RegistrationDocument
    from .services import EnrollmentError

    validate_document(kind=kind, number=number)
    with transaction.atomic(), audit_context(actor, action="registration_document_record"):
        e = _live(enrollment)
        if RegistrationDocument.objects.filter(enrollment=e, kind=kind).exists():
            raise EnrollmentError("duplicate", f"已登记查验过{DocumentKind(kind).label}")
        return RegistrationDocument.objects.create(enrollment=e, kind=kind, number=_clean_number(number, "证件编号"),
                                                   seen_at=clock.now(), seen_by=acting_user(actor))


def registration_document_remove(*, document, actor) -> None:
    from django.db import transaction

    from core.audit import audit_context

    from .models import RegistrationDocument

    with transaction.atomic(), audit_context(actor, action="registration_document_remove"):
        RegistrationDocument.objects.filter(pk=document.pk).delete()


def validate_agent(*, enrollment, name, id_number, relation) -> tuple[str, str]:
    """(name, normalised ID number) of a valid agent; EnrollmentError otherwise."""
    from .models import AgentRelation
    from .services import EnrollmentError, parse_id_number
    from .spreadsheet import has_invisible

    name = (name or "").strip()
    if not name:
        raise EnrollmentError("invalid_input", "请填写代办人姓名")
    if len(name) > 50 or has_invisible(name):
        raise EnrollmentError("invalid_input", "代办人姓名过长或含有不可见字符")
    try:
        parsed = parse_id_number(id_number)
    except EnrollmentError as exc:
        raise EnrollmentError("invalid_input", f"代办人{exc.message}") from None
    if parsed.number == enrollment.resident.id_number:
        raise EnrollmentError("invalid_input", "代办人不能是参保人本人")
    if relation not in AgentRelation.values:
        raise EnrollmentError("invalid_input", "请选择代办人与参保人的关系")
    return name, parsed.number


def registration_agent_record(*, enrollment, name: str, id_number: str, relation: str, actor):
    """Record (or correct) the agent who registered the person for them; the ID number is
    checked like a resident's (enrollment.idnumbers)."""
    from django.db import transaction

    from core import clock
    from core.audit import audit_context
    from core.audit_actor import acting_user

    from .models import RegistrationAgent

    with transaction.atomic(), audit_context(actor, action="registration_agent_record"):
        e = _live(enrollment)
        name, number = validate_agent(enrollment=e, name=name, id_number=id_number, relation=relation)
        agent, _ = RegistrationAgent.objects.update_or_create(
            enrollment=e, defaults={"name": name, "id_number": number, "relation": relation,
                                    "recorded_at": clock.now(), "recorded_by": acting_user(actor)})
        return agent


def registration_agent_remove(*, agent, actor) -> None:
    from django.db import transaction

    from core.audit import audit_context

    from .models import RegistrationAgent

    with transaction.atomic(), audit_context(actor, action="registration_agent_remove"):
        RegistrationAgent.objects.filter(pk=agent.pk).delete()
