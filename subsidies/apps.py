from django.apps import AppConfig


class SubsidiesConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "subsidies"
    verbose_name = "资助参保"

    def ready(self):
        from . import jobs  # noqa: F401  (register the roster import with core.batch)
        from . import report_admin  # noqa: F401
