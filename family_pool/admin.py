"""The family pool admin: 职工个人账户 (with its ledger), 家庭共济网 (members, mode history),
共济支付结算. Read-only — accounts come from the import, everything else from the services;
nothing is ever deleted. Region-scoped: a network and its settlements by the network's region;
an account by where it is insured or by the region of a network it funds. ID numbers masked
unless the user may see them in full."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import Q

from accounts.admin_mixins import RegionScopedAdmin
from accounts.scoping import region_codes
from enrollment import idnumbers
from enrollment.admin.common import MaskedIdColumnMixin, can_view_full_id

from enrollment.admin.imports import ServiceImportMixin
from enrollment.resources import _ServiceResource
from import_export.results import RowResult

from .accounts import REQUIRED as ACCOUNT_COLUMNS, import_accounts_table
from .models import AccountEntry, EmployeeAccount, MedicalSettlement, ModeChange, Network, Participation
from .networks import PoolError, network_dissolve


class ReadOnlyMixin:
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def _account_scope(queryset, user, prefix: str = ""):
    codes = region_codes(user)
    if codes is None:
        return queryset
    return queryset.filter(Q(**{f"{prefix}insured_region__in": codes})
                           | Q(**{f"{prefix}networks__region__in": codes})).distinct()


class EntryInline(ReadOnlyMixin, admin.TabularInline):
    model = AccountEntry
    fields = ["created_at", "bucket", "kind", "amount", "note", "actor"]
    readonly_fields = fields
    ordering = ["-id"]
    extra = 0
    max_num = 0
    verbose_name_plural = "账户流水（最近在前）"


class EmployeeAccountImportResource(_ServiceResource):
    """导入职工个人账户 in the admin: the same service as the command, previewed, then run on
    the batch engine (``family_pool.jobs_import``)."""

    batch_kind = "import_employee_accounts"
    required = ACCOUNT_COLUMNS

    class Meta:
        model = EmployeeAccount
        fields = ("name", "id_number", "insured_region", "historical_balance", "current_balance", "status")
        import_id_fields = ("id_number",)

    def run_service(self, table, *, dry_run, user):
        return import_accounts_table(table, dry_run=dry_run, actor=user, user=user)

    def preview_rows(self, outcome):
        kinds = {"new": RowResult.IMPORT_TYPE_NEW, "updated": RowResult.IMPORT_TYPE_UPDATE,
                 "unchanged": RowResult.IMPORT_TYPE_SKIP}
        for r in outcome.rows[:1000]:
            rr = RowResult()
            rr.import_type = kinds[r.change]
            rr.object_repr = f"{r.name}（{idnumbers.mask(r.id_number)}）"
            rr.diff = [r.name, idnumbers.mask(r.id_number), r.insured_region, str(r.historical), str(r.current),
                       "正常" if r.status == "normal" else "冻结",
                       {"new": "新增", "updated": "更新", "unchanged": "无变化"}[r.change]]
            yield rr


@admin.register(EmployeeAccount)
class EmployeeAccountAdmin(ServiceImportMixin, ReadOnlyMixin, MaskedIdColumnMixin, admin.ModelAdmin):
    import_resource = EmployeeAccountImportResource
    list_display = ["id_display", "name", "insured_region", "historical_balance", "current_balance", "status",
                    "imported_at"]
    list_filter = ["status"]
    search_fields = ["id_number"]
    search_help_text = "输入完整身份证号码"
    fields = ["id_shown", "name", "insured_region", "historical_balance", "current_balance", "status",
              "imported_at", "updated_at"]
    readonly_fields = fields
    inlines = [EntryInline]
    show_full_result_count = False

    def get_queryset(self, request):
        return _account_scope(super().get_queryset(request), request.user)

    def has_import_permission(self, request):
        # the employee scheme's file holds accounts from anywhere: only for all-region users
        return region_codes(request.user) is None and super().has_import_permission(request)

    def get_search_results(self, request, queryset, search_term):
        number = idnumbers.normalise(search_term.strip())
        if not number:
            return queryset, False
        return queryset.filter(id_number=number), False

    @admin.display(description="身份证号码")
    def id_shown(self, obj):
        return obj.id_number  # masked in render_change_form unless the user may see it in full

    def render_change_form(self, request, context, *args, **kwargs):
        obj = kwargs.get("obj")
        if obj is not None and not can_view_full_id(request):
            obj.id_number = idnumbers.mask(obj.id_number)
        return super().render_change_form(request, context, *args, **kwargs)


@admin.register(AccountEntry)
class AccountEntryAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["id", "account", "bucket", "kind", "amount", "created_at", "note"]
    list_filter = ["bucket", "kind"]
    list_select_related = ["account"]
    search_fields = ["account__id_number"]
    search_help_text = "输入完整身份证号码"
    ordering = ["-id"]
    show_full_result_count = False

    def get_queryset(self, request):
        return _account_scope(super().get_queryset(request), request.user, "account__")

    def get_search_results(self, request, queryset, search_term):
        number = idnumbers.normalise(search_term.strip())
        if not number:
            return queryset, False
        return queryset.filter(account__id_number=number), False


class ParticipationInline(ReadOnlyMixin, admin.TabularInline):
    model = Participation
    fields = ["id_masked", "name", "role", "relation", "via_at_joining", "on_at_joining", "joined_at", "left_at"]
    readonly_fields = fields
    extra = 0
    max_num = 0
    verbose_name_plural = "组建人与共济成员"

    @admin.display(description="身份证号码")
    def id_masked(self, obj):
        return idnumbers.mask(obj.id_number)

    # the deadline reads the child's registration of the year in hand (networks.registrations_for_year);
    # these are what held when the member joined
    @admin.display(description="加入时的登记方式")
    def via_at_joining(self, obj):
        return obj.get_registered_via_display() or "—"

    @admin.display(description="加入时的登记日期")
    def on_at_joining(self, obj):
        return obj.registered_on or "—"


class ModeChangeInline(ReadOnlyMixin, admin.TabularInline):
    model = ModeChange
    fields = ["changed_at", "medical_mode", "premium_mode", "changed_by", "actor"]
    readonly_fields = fields
    extra = 0
    max_num = 0
    verbose_name_plural = "共济方式变更记录"


@admin.register(Network)
class NetworkAdmin(ReadOnlyMixin, MaskedIdColumnMixin, RegionScopedAdmin):
    id_path = "organizer_id_number"
    list_display = ["id", "organizer_name", "id_display", "region", "medical_mode", "premium_mode", "status",
                    "created_at"]
    list_filter = ["status", "medical_mode", "premium_mode"]
    list_select_related = ["region"]
    search_fields = ["organizer_id_number"]
    search_help_text = "输入组建人或成员的完整身份证号码"
    fields = ["organizer_name", "organizer_masked", "region", "medical_mode", "premium_mode", "pool_balance",
              "status", "created_at", "dissolved_at"]
    readonly_fields = fields
    inlines = [ParticipationInline, ModeChangeInline]
    actions = ["dissolve"]

    def get_search_results(self, request, queryset, search_term):
        number = idnumbers.normalise(search_term.strip())
        if not number:
            return queryset, False
        return queryset.filter(Q(organizer_id_number=number) | Q(participations__id_number=number)).distinct(), False

    @admin.display(description="组建人身份证号码")
    def organizer_masked(self, obj):
        return idnumbers.mask(obj.organizer_id_number)

    @admin.display(description="共济资金（组建人历年账户余额）")
    def pool_balance(self, obj):
        return obj.account.historical_balance

    @admin.action(description="解散所选家庭共济网")
    def dissolve(self, request, queryset):
        done, failed = 0, []
        for network in queryset.filter(status=Network.Status.ACTIVE).order_by("pk")[:200]:
            try:
                network_dissolve(network=network, actor=request.user)
                done += 1
            except PoolError as exc:
                failed.append(f"{network}：{exc.message}")
        if done:
            self.message_user(request, f"已解散 {done} 个家庭共济网", messages.SUCCESS)
        for text in failed[:20]:
            self.message_user(request, text, messages.ERROR)

    def has_change_permission(self, request, obj=None):
        return False

    def get_actions(self, request):
        actions = super().get_actions(request)
        if not request.user.has_perm("family_pool.change_network"):
            actions.pop("dissolve", None)
        return actions


@admin.register(MedicalSettlement)
class MedicalSettlementAdmin(ReadOnlyMixin, RegionScopedAdmin):
    region_field = "network__region"
    list_display = ["request_id", "network", "member", "purpose", "cost", "from_own", "from_pool", "unpaid",
                    "excluded_from_other_schemes", "settled_at"]
    list_filter = ["purpose"]
    list_select_related = ["network", "member"]
    search_fields = ["request_id"]
    fields = list_display
    readonly_fields = fields
