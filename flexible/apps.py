from django.apps import AppConfig


class FlexibleConfig(AppConfig):
    name = "flexible"
    verbose_name = "灵活就业人员医疗保险"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # One scheme at a time: resident registration asks this app, through the hook that
        # enrollment offers, whether the person is in the flexible scheme that year.
        from enrollment.services import register_other_scheme_check

        from .selectors import flexible_refusal_for_resident

        register_other_scheme_check(flexible_refusal_for_resident)
