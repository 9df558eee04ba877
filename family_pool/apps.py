from django.apps import AppConfig


class FamilyPoolConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "family_pool"
    verbose_name = "家庭共济"

    def ready(self):
        from . import batch_admin, jobs  # noqa: F401  (the December batch: engine job, admin pages)
