"""Read-only lists filled by imports and renewal: employee coverage, re-registration notices."""

from __future__ import annotations

from django.contrib import admin

from accounts.admin_mixins import RegionScopedAdmin, UserRegionFilter

from ..models import EmployeeCoverage, ReregistrationNotice
from ..resources import EmployeeCoverageImportResource
from .common import IdSearchMixin, MaskedIdColumnMixin
from .imports import ServiceImportMixin


@admin.register(EmployeeCoverage)
class EmployeeCoverageAdmin(ServiceImportMixin, IdSearchMixin, MaskedIdColumnMixin, RegionScopedAdmin):
    import_resource = EmployeeCoverageImportResource

    region_field = "region_code"
    list_display = ["id_display", "name", "region_name", "year", "ended_on", "imported_at"]
    list_filter = ["year"]
    search_fields = ["id_number"]
    readonly_fields = ["id_number", "name", "region_code", "year", "ended_on", "imported_at"]

    def get_queryset(self, request):
        from django.db.models import OuterRef, Subquery

        from policy.models import Region

        # the region by name (the column holds a code), in the list's one query
        return super().get_queryset(request).annotate(region_name=Subquery(
            Region.objects.filter(code=OuterRef("region_code")).values("name")[:1]))

    @admin.display(description="参保地", ordering="region_code")
    def region_name(self, obj):
        return getattr(obj, "region_name", None) or obj.region_code

    def has_add_permission(self, request):
        return False  # imported (import_employee_coverage)

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # records are never deleted from the screens (the next import updates them)


class ReasonRegionFilter(UserRegionFilter):
    pass


@admin.register(ReregistrationNotice)
class ReregistrationNoticeAdmin(IdSearchMixin, RegionScopedAdmin):
    list_display = ["resident", "region", "year", "reason", "detail", "created_at"]
    list_filter = [ReasonRegionFilter, "year", "reason"]
    list_select_related = ["resident", "region"]
    search_fields = ["resident__id_number"]
    readonly_fields = ["resident", "region", "year", "reason", "detail", "created_at"]
    actions = ["print_notices"]

    @admin.action(description="打印重新登记通知书", permissions=["view"])
    def print_notices(self, request, queryset):
        from django.http import HttpResponseRedirect
        from django.urls import reverse

        from ..receipts import NOTICE_LIMIT

        ids = list(queryset.order_by("pk").values_list("pk", flat=True)[:NOTICE_LIMIT + 1])
        if len(ids) > NOTICE_LIMIT:
            self.message_user(request, f"一次最多打印 {NOTICE_LIMIT} 份，请缩小范围后再试", level="warning")
            return None
        return HttpResponseRedirect(f"{reverse('enrollment_notices')}?ids={','.join(map(str, ids))}")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # a notice stays on record; renewal settles it
