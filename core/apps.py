from django.apps import AppConfig


class CoreConfig(AppConfig):
    """What every app shares and no app owns: the business clock, the batch engine, the
    working-day calendar."""

    name = "core"
    verbose_name = "批处理与公共服务"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from . import admin_workdays  # noqa: F401  (工作日日历; core has no admin module of its own)
