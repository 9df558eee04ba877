from django.apps import AppConfig


class EnrollmentConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "enrollment"
    verbose_name = "参保登记"

    def ready(self):
        from . import jobs  # noqa: F401  (registers the batch jobs with core.batch)
