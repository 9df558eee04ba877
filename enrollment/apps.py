from django.apps import AppConfig


class EnrollmentConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "enrollment"
    verbose_name = "参保登记"

    def ready(self):
        from . import import_jobs, jobs  # noqa: F401  (register the batch jobs with core.batch)
