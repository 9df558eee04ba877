"""The inlines of issue 13 — 退出其他制度保障记录 on the resident's page; 代办人, 已查验材料 and
新生儿参保所凭父母 on the registration's page — and the services that save them.  The forms
check what the services check (so the caseworker's input stays in front of them); saving goes
through the services (audited, one transaction); existing records are read-only — a mistake
is deleted (the audit trail keeps it) and entered again."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.utils.html import format_html, format_html_join

from core.widgets import DateInput

from .. import idnumbers
from ..documents import (
    registration_agent_record,
    registration_agent_remove,
    registration_document_record,
    registration_document_remove,
    validate_agent,
    validate_document,
)
from ..leavers import scheme_exit_record, scheme_exit_remove, validate_scheme_exit
from ..models import (
    DocumentKind,
    NewbornParentLink,
    RegistrationAgent,
    RegistrationDocument,
    SchemeExit,
    ZeroClaimYear,
)
from ..services import EnrollmentError
from ..zero_claims import zero_claim_record


class OptionalInlineFormSet(forms.BaseInlineFormSet):
    """A post without this inline's management form (a page or client from before the inline
    existed) changes none of its rows, instead of failing the whole page."""

    @property
    def management_form(self):
        from django.forms.formsets import ManagementForm

        if self.is_bound and f"{self.prefix}-TOTAL_FORMS" not in self.data:
            form = ManagementForm({f"{self.prefix}-TOTAL_FORMS": "0", f"{self.prefix}-INITIAL_FORMS": "0"},
                                  auto_id=self.auto_id, prefix=self.prefix, renderer=self.renderer)
            form.full_clean()
            return form
        return super().management_form


def _who(user) -> str:
    if user is None:
        return "—"
    return user.get_full_name() or user.get_username()


def _local(dt) -> str:
    from django.utils import timezone

    return timezone.localtime(dt).strftime("%Y-%m-%d %H:%M") if dt else "—"


class RecordedColumns:
    """记录人 and 记录时间 of a record entered once and never edited (recorded_by, recorded_at)."""

    @admin.display(description="记录人")
    def recorder(self, obj):
        return _who(obj.recorded_by) if obj and obj.pk else "—"

    @admin.display(description="记录时间")
    def recorded_time(self, obj):
        return _local(obj.recorded_at) if obj and obj.pk else "—"


# --- 退出其他制度保障记录 (resident page) ----------------------------------------------------------


class SchemeExitForm(forms.ModelForm):
    class Meta:
        model = SchemeExit
        fields = ["kind", "left_on", "evidence_kind", "evidence_number", "note"]
        widgets = {"left_on": DateInput()}

    def clean(self):
        data = super().clean()
        if self.instance.pk is None and not self.errors and data:
            try:
                validate_scheme_exit(kind=data.get("kind"), left_on=data.get("left_on"),
                                     evidence_kind=data.get("evidence_kind"),
                                     evidence_number=data.get("evidence_number"))
            except EnrollmentError as exc:
                raise forms.ValidationError(exc.message) from None
        return data


class SchemeExitInline(RecordedColumns, admin.TabularInline):
    model = SchemeExit
    form = SchemeExitForm
    extra = 0
    formset = OptionalInlineFormSet
    verbose_name = "退出其他制度保障记录（退役、随军配偶、刑满释放、职工医保中断）"
    verbose_name_plural = verbose_name
    fields = ["kind", "left_on", "evidence_kind", "evidence_number", "note", "recorder", "recorded_time"]
    readonly_fields = ["recorder", "recorded_time"]
    ordering = ["-left_on", "-id"]

    def has_change_permission(self, request, obj=None):
        return False  # a record is not edited: deleted (kept in the audit trail) and entered again

    def has_add_permission(self, request, obj=None):
        return obj is not None and request.user.has_perm("enrollment.add_schemeexit")

    def has_delete_permission(self, request, obj=None):
        return request.user.has_perm("enrollment.delete_schemeexit")



def save_scheme_exits(request, resident, formset, *, on_error, on_repriced) -> None:
    formset.save(commit=False)
    for obj in formset.deleted_objects:
        try:
            repriced = scheme_exit_remove(scheme_exit=obj, actor=request.user)
        except EnrollmentError as exc:
            on_error(exc.message)
        on_repriced(repriced)
    for f in formset.forms:
        if f.instance.pk is None and f.has_changed() and f not in formset.deleted_forms:
            d = f.cleaned_data
            try:
                row = scheme_exit_record(resident=resident, kind=d["kind"], left_on=d["left_on"],
                                         evidence_kind=d["evidence_kind"], evidence_number=d["evidence_number"],
                                         note=d.get("note") or "", actor=request.user)
            except EnrollmentError as exc:
                on_error(exc.message)
            on_repriced(row.repriced)


# --- 零报销年度 (resident page; 004 (一)Q1) --------------------------------------------------------


class ZeroClaimYearInline(RecordedColumns, admin.TabularInline):
    model = ZeroClaimYear
    extra = 0
    formset = OptionalInlineFormSet
    verbose_name = "零报销年度（当年基金零报销，下一年度大病保险限额按政策提高）"
    verbose_name_plural = verbose_name
    fields = ["year", "source", "recorder", "recorded_time", "manage"]
    readonly_fields = ["recorder", "recorded_time", "manage"]
    ordering = ["-year"]

    @admin.display(description="更正或撤销")
    def manage(self, obj):
        from django.urls import reverse

        if obj is None or obj.pk is None:
            return ""
        return format_html('<a href="{}">更正</a> <a href="{}">撤销</a>',
                           reverse("admin:enrollment_zeroclaimyear_correct", args=[obj.pk]),
                           reverse("admin:enrollment_zeroclaimyear_withdraw", args=[obj.pk]))

    def has_change_permission(self, request, obj=None):
        return False  # corrected or withdrawn with a reason on its own page (the links), audited

    def has_add_permission(self, request, obj=None):
        return obj is not None and request.user.has_perm("enrollment.add_zeroclaimyear")

    def has_delete_permission(self, request, obj=None):
        return False



def save_zero_claim_years(request, resident, formset, *, on_error, on_repriced) -> None:
    formset.save(commit=False)
    for f in formset.forms:
        if f.instance.pk is None and f.has_changed() and f not in formset.deleted_forms:
            d = f.cleaned_data
            try:
                row = zero_claim_record(resident=resident, year=d["year"], source=d.get("source") or "",
                                        actor=request.user)
            except EnrollmentError as exc:
                on_error(exc.message)
            on_repriced(row.repriced)


# --- 代办人, 已查验材料, 新生儿参保所凭父母 (registration page) ----------------------------------------


class AgentForm(forms.ModelForm):
    id_number = forms.CharField(label="代办人身份证号码", max_length=30,
                                help_text="18 位；全角数字和小写 x 会自动规范")

    class Meta:
        model = RegistrationAgent
        fields = ["name", "id_number", "relation"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:  # shown masked; another agent is entered after deleting this one
            self.fields["id_number"].disabled = True
            self.fields["id_number"].help_text = "如需更换代办人，请勾选“删除”保存后重新填写"
            self.initial["id_number"] = idnumbers.mask(self.instance.id_number)

    def clean(self):
        data = super().clean()
        if self.instance.pk:
            data["id_number"] = self.instance.id_number
        if self.errors or not data or data.get("DELETE"):
            return data
        try:
            data["name"], data["id_number"] = validate_agent(
                enrollment=self.instance.enrollment, name=data.get("name"), id_number=data.get("id_number"),
                relation=data.get("relation"))
        except EnrollmentError as exc:
            raise forms.ValidationError(exc.message) from None
        return data


class AgentInline(admin.StackedInline):
    model = RegistrationAgent
    form = AgentForm
    extra = 0
    formset = OptionalInlineFormSet
    max_num = 1
    verbose_name = "代办人（由他人代办时填写）"
    verbose_name_plural = verbose_name
    fields = ["name", "id_number", "relation", "recorder"]
    readonly_fields = ["recorder"]

    @admin.display(description="记录人、时间")
    def recorder(self, obj):
        return f"{_who(obj.recorded_by)}，{_local(obj.recorded_at)}" if obj and obj.pk else "—"


class DocumentForm(forms.ModelForm):
    class Meta:
        model = RegistrationDocument
        fields = ["kind", "number"]

    def clean(self):
        data = super().clean()
        if self.instance.pk is None and not self.errors and data:
            try:
                validate_document(kind=data.get("kind"), number=data.get("number") or "")
            except EnrollmentError as exc:
                raise forms.ValidationError(exc.message) from None
        return data

    def validate_unique(self):
        """The same kind twice is the service's refusal (in words), not the model's."""


class DocumentInline(admin.TabularInline):
    model = RegistrationDocument
    form = DocumentForm
    extra = 0
    formset = OptionalInlineFormSet
    verbose_name = "已查验材料"
    verbose_name_plural = "已查验材料（勾选“删除”可撤销误录）"
    fields = ["kind", "number", "seer", "seen_time"]
    readonly_fields = ["seer", "seen_time"]

    def has_change_permission(self, request, obj=None):
        return False

    def has_add_permission(self, request, obj=None):
        return obj is not None and request.user.has_perm("enrollment.add_registrationdocument")

    @admin.display(description="查验人")
    def seer(self, obj):
        return _who(obj.seen_by) if obj and obj.pk else "—"

    @admin.display(description="查验时间")
    def seen_time(self, obj):
        return _local(obj.seen_at) if obj and obj.pk else "—"


class ParentLinkInline(admin.StackedInline):
    model = NewbornParentLink
    fk_name = "enrollment"
    extra = 0
    formset = OptionalInlineFormSet
    can_delete = False
    verbose_name = "新生儿参保所凭父母（外地新生儿凭父母居住证参保）"
    verbose_name_plural = verbose_name
    fields = ["parent_shown", "parent_enrollment", "same_household", "checked_on", "recorded_by"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="父母一方")
    def parent_shown(self, obj):
        return f"{obj.parent.name}（{idnumbers.mask(obj.parent.id_number)}）" if obj and obj.pk else "—"


def save_registration_formset(request, enrollment, formset, *, on_error) -> bool:
    """Save the agent and document inlines through the services; False for another formset."""
    if formset.model is RegistrationAgent:
        formset.save(commit=False)
        try:
            for obj in formset.deleted_objects:
                registration_agent_remove(agent=obj, actor=request.user)
            for f in formset.forms:
                if f.has_changed() and f not in formset.deleted_forms:
                    d = f.cleaned_data
                    registration_agent_record(enrollment=enrollment, name=d["name"], id_number=d["id_number"],
                                              relation=d["relation"], actor=request.user)
        except EnrollmentError as exc:
            on_error(exc.message)
        return True
    if formset.model is RegistrationDocument:
        formset.save(commit=False)
        try:
            for obj in formset.deleted_objects:
                registration_document_remove(document=obj, actor=request.user)
            for f in formset.forms:
                if f.instance.pk is None and f.has_changed() and f not in formset.deleted_forms:
                    registration_document_record(enrollment=enrollment, kind=f.cleaned_data["kind"],
                                                 number=f.cleaned_data.get("number") or "", actor=request.user)
        except EnrollmentError as exc:
            on_error(exc.message)
        return True
    if formset.model is NewbornParentLink:  # read-only: nothing to write
        formset.save(commit=False)
        return True
    return False


def checklist_html(enrollment) -> str:
    """材料核对: each required document, seen (by whom, when) or missing, and the sentence."""
    from ..documents import checklist

    c = checklist(enrollment)
    if c.note:
        return format_html("<p>{}</p>", c.note)
    rows = []
    for kind in c.required:
        seen = c.seen.get(kind)
        rows.append((DocumentKind(kind).label, "已查验" if seen else "未查验",
                     f"{seen.seen_by}，{_local(seen.seen_at)}" if seen else "—"))
    return format_html(
        "<p><strong>{}</strong></p><table><thead><tr><th>所需材料</th><th>状态</th><th>查验人、时间</th></tr></thead>"
        "<tbody>{}</tbody></table><p>材料未齐不影响登记和缴费，补齐后在下方“已查验材料”中登记。</p>",
        c.summary(), format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td></tr>", rows))
