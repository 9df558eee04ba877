from django.apps import AppConfig


class CoreConfig(AppConfig):
    """What every app shares and no app owns: the business clock, the batch engine."""

    name = "core"
    verbose_name = "批处理与公共服务"
    default_auto_field = "django.db.models.BigAutoField"
