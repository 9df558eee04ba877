from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from .models import ApiToken, LoginFailure, StaffRegion
from .services import api_token_revoke, login_lock_release

User = get_user_model()


class StaffRegionInline(admin.TabularInline):
    model = StaffRegion
    extra = 0
    verbose_name = "经办地区"
    verbose_name_plural = "经办地区（经办人员只能看到这些地区的参保人）"


admin.site.unregister(User)


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    inlines = [StaffRegionInline]
    list_display = ["username", "first_name", "is_staff", "is_active", "is_superuser", "regions", "last_login"]

    @admin.display(description="经办地区")
    def regions(self, obj):
        return "、".join(sr.region_id for sr in obj.staff_regions.all()) or "—"

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("staff_regions")


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["name", "scope", "prefix", "created_at", "created_by", "last_used_at", "revoked_at"]
    list_filter = ["scope"]
    readonly_fields = ["name", "scope", "prefix", "created_at", "created_by", "last_used_at", "revoked_at"]
    actions = ["revoke"]

    def has_add_permission(self, request):
        return False  # manage.py create_api_token prints the token once

    def has_change_permission(self, request, obj=None):
        return False

    @admin.action(description="吊销所选令牌", permissions=["delete"])
    def revoke(self, request, queryset):
        for token in queryset:
            api_token_revoke(token=token, actor=request.user)
        self.message_user(request, f"已吊销 {queryset.count()} 个令牌", messages.SUCCESS)


@admin.register(LoginFailure)
class LoginFailureAdmin(admin.ModelAdmin):
    list_display = ["username", "ip", "at"]
    search_fields = ["username"]
    actions = ["unlock"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.action(description="解除锁定（删除所选用户名的失败记录）", permissions=["delete"])
    def unlock(self, request, queryset):
        names = sorted(set(queryset.values_list("username", flat=True)))
        login_lock_release(usernames=names, actor=request.user)
        self.message_user(request, "已解除锁定：" + "、".join(names), messages.SUCCESS)
