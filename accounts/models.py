"""Integration tokens for the HTTP API (INTERFACES.md section 5), the regions given to
a user, failed logins, and the audit trail of who may do what (users, groups, a user's
groups and permissions, group permissions)."""

import hashlib

import pghistory
from django.conf import settings
from django.contrib.auth.models import Group, User
from django.db import models
from django.db.models import Q

from core.audit import tracked


class TokenScope(models.TextChoices):
    CHANNEL = "channel", "缴费渠道"
    POOL = "pool", "家庭共济（市民应用）"
    STAFF = "staff", "经办系统"


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


@tracked()
class ApiToken(models.Model):
    """Only a SHA-256 of the token is stored; the token is shown once, at creation."""

    name = models.CharField("名称", max_length=100)
    scope = models.CharField("范围", max_length=10, choices=TokenScope.choices)
    token_hash = models.CharField("令牌摘要", max_length=64, unique=True, editable=False)
    prefix = models.CharField("令牌前缀", max_length=8, editable=False)
    created_at = models.DateTimeField("创建时间", auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="创建人", null=True,
                                   blank=True, on_delete=models.PROTECT, related_name="+")
    last_used_at = models.DateTimeField("最近使用", null=True, blank=True)
    revoked_at = models.DateTimeField("吊销时间", null=True, blank=True)

    class Meta:
        verbose_name = "接口令牌"
        verbose_name_plural = "接口令牌"
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["name"], condition=Q(revoked_at__isnull=True),
                                    name="api_token_unique_active_name"),
        ]

    def __str__(self):
        return f"{self.name}（{self.get_scope_display()}）"

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@tracked()
class StaffRegion(models.Model):
    """A caseworker works on the residents of these regions only."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="用户", on_delete=models.CASCADE,
                             related_name="staff_regions")
    region = models.ForeignKey("policy.Region", verbose_name="地区", on_delete=models.PROTECT,
                               related_name="+")

    class Meta:
        verbose_name = "经办地区"
        verbose_name_plural = "经办地区"
        permissions = [("all_regions", "可以查看所有地区（审计）")]
        constraints = [models.UniqueConstraint(fields=["user", "region"], name="staff_region_unique")]

    def __str__(self):
        return f"{self.user} · {self.region}"


@pghistory.track(pghistory.DeleteEvent())  # a release (or a successful login) deletes them
class LoginFailure(models.Model):
    """Failed logins, for the lockout (accounts.backends.LockoutBackend)."""

    username = models.CharField("用户名", max_length=150, db_index=True)
    ip = models.GenericIPAddressField("来源地址", null=True, blank=True)
    at = models.DateTimeField("时间", auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = "登录失败记录"
        verbose_name_plural = "登录失败记录"
        ordering = ["-at"]


# --- the audit trail of who may do what ------------------------------------------------------
#
# django.contrib.auth's tables get their triggers through proxy models declared here, so
# the trigger migrations live in this app (a trigger registered on auth.User itself would
# ask for a migration inside Django).  The default many-to-many tables are tracked the
# same way, through proxies of User.groups.through and friends.

    def __str__(self):
        return f"{self.username} 登录失败"


class AuditedUser(User):
    class Meta:
        proxy = True
        verbose_name = "用户（审计）"
        verbose_name_plural = "用户（审计）"


class AuditedGroup(Group):
    class Meta:
        proxy = True
        verbose_name = "角色（审计）"
        verbose_name_plural = "角色（审计）"


class UserGroupLink(User.groups.through):
    class Meta:
        proxy = True
        verbose_name = "用户所属角色"
        verbose_name_plural = "用户所属角色"


class UserPermissionLink(User.user_permissions.through):
    class Meta:
        proxy = True
        verbose_name = "用户权限"
        verbose_name_plural = "用户权限"


class GroupPermissionLink(Group.permissions.through):
    class Meta:
        proxy = True
        verbose_name = "角色权限"
        verbose_name_plural = "角色权限"


def _obj_field(model):
    """pgh_obj pointing at the auth model itself (not the proxy), so the events admin
    finds a user's or a group's events by the real object."""
    return models.ForeignKey(model, db_constraint=False, on_delete=models.DO_NOTHING,
                             related_name="+", related_query_name="+", verbose_name="对象")


class UserEvent(pghistory.create_event_model(
    AuditedUser,
    pghistory.InsertEvent(),
    pghistory.UpdateEvent(),  # fires only when a snapshot column changes (not on a login)
    pghistory.DeleteEvent(),
    # A new password is an event of its own; its hash is never stored.
    pghistory.UpdateEvent("password_change", condition=pghistory.AnyChange("password")),
    exclude=["password", "last_login"],
    obj_field=None,
)):
    pgh_obj = _obj_field(User)

    class Meta:
        verbose_name = "用户变更记录"
        verbose_name_plural = "用户变更记录"


class GroupEvent(pghistory.create_event_model(AuditedGroup, pghistory.InsertEvent(), pghistory.UpdateEvent(),
                                              pghistory.DeleteEvent(), obj_field=None)):
    pgh_obj = _obj_field(Group)

    class Meta:
        verbose_name = "角色变更记录"
        verbose_name_plural = "角色变更记录"


def _link_event_model(link_model):
    """Rows of a many-to-many table: "add" when inserted, "remove" when deleted."""
    return pghistory.create_event_model(link_model, pghistory.InsertEvent("add"),
                                        pghistory.DeleteEvent("remove"), obj_field=None)


class UserGroupEvent(_link_event_model(UserGroupLink)):
    class Meta:
        verbose_name = "用户角色变更记录"
        verbose_name_plural = "用户角色变更记录"


class UserPermissionEvent(_link_event_model(UserPermissionLink)):
    class Meta:
        verbose_name = "用户权限变更记录"
        verbose_name_plural = "用户权限变更记录"


class GroupPermissionEvent(_link_event_model(GroupPermissionLink)):
    class Meta:
        verbose_name = "角色权限变更记录"
        verbose_name_plural = "角色权限变更记录"
