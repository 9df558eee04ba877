from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "payments"
    verbose_name = "缴费"

    def ready(self):
        from . import admin_imports  # noqa: F401  (对账批次 and the import pages)
        from . import jobs  # noqa: F401  (register the payment imports with core.batch)
