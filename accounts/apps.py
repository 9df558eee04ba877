from django.apps import AppConfig, apps
from django.db.models.signals import post_migrate


class AccountsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "accounts"
    verbose_name = "账户与权限"

    def ready(self):
        from . import signals  # noqa: F401  (login lockout counters)

        # Roles are code: rebuilt after every migrate, once every app's permissions exist.
        post_migrate.connect(_sync_roles, dispatch_uid="accounts.sync_roles")


def _sync_roles(sender, **kwargs):
    if sender is [a for a in apps.get_app_configs() if a.models_module is not None][-1]:
        from .roles import sync_roles

        sync_roles()
