"""Roles as Django groups, kept in step with the code after every migrate.

- 经办人员 (caseworker): daily work on residents, enrollments, payments,
  assistance and family pools of their own regions; reads policy years.
- 政策管理员 (policy administrator): edits draft policy years and publishes them; keeps the
  working-day calendar (工作日日历).
- 审计人员 (auditor): reads everything, including the audit trail; changes nothing.
Superusers are for operators, not for daily work.
"""

from django.contrib.auth.models import Group, Permission

CASEWORKER = "经办人员"
POLICY_ADMIN = "政策管理员"
AUDITOR = "审计人员"

WORK_APPS = ("enrollment", "payments", "subsidies", "family_pool", "flexible")


def _perms(app_labels, actions, exclude_models=()):
    """The model permissions ``<action>_<model>`` of the apps; custom permissions that
    merely start with an action word (``view_full_id_number``) are granted by name only."""
    qs = Permission.objects.filter(content_type__app_label__in=app_labels)
    wanted = []
    for p in qs.select_related("content_type"):
        action, _, model = p.codename.partition("_")
        if action in actions and model == p.content_type.model and model not in exclude_models \
                and not model.endswith("event"):
            wanted.append(p)
    return wanted


def sync_roles(**kwargs) -> None:
    caseworker, _ = Group.objects.get_or_create(name=CASEWORKER)
    caseworker.permissions.set(
        _perms(WORK_APPS, {"view", "add", "change", "delete"})
        + _perms(["policy"], {"view"})
        + _perms(["core"], {"view"})  # the batch runs (scoped to their regions in the admin)
        + list(Permission.objects.filter(codename__in=["view_region"]))
        # the tax bureau's 特殊缴费 hand-over (full ID numbers; each download is logged)
        + list(Permission.objects.filter(content_type__app_label="subsidies", codename="export_tax_flags")))
    policy_admin, _ = Group.objects.get_or_create(name=POLICY_ADMIN)
    policy_admin.permissions.set(
        _perms(["policy"], {"view", "add", "change", "delete", "publish"})
        # the working-day calendar (工作日日历): a year the State Council announces after the
        # bundled chinesecalendar is entered by hand
        + list(Permission.objects.filter(content_type__app_label="core",
                                         content_type__model__in=["workdaycalendaryear", "calendarday"])))
    auditor, _ = Group.objects.get_or_create(name=AUDITOR)
    auditor.permissions.set(
        _perms(["policy", "accounts", "auth", "core", *WORK_APPS], {"view"})
        + list(Permission.objects.filter(content_type__app_label="pghistory", codename__startswith="view_"))
        + list(Permission.objects.filter(codename__in=["all_regions", "view_full_id_number"])))
