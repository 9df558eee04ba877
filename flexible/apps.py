from django.apps import AppConfig


class FlexibleConfig(AppConfig):
    name = "flexible"
    verbose_name = "灵活就业人员医疗保险"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # One scheme at a time: resident registration asks this app, through the hook that
        # enrollment offers, whether the person is in the flexible scheme that year.
        # The bulk paths (the residents import with 参保年度, default renewal) ask the set-based
        # variant, one query per chunk of people.
        from enrollment.services import register_other_scheme_check, register_other_scheme_check_many

        from .selectors import flexible_refusal_for_resident, flexible_refusals_for_residents

        register_other_scheme_check(flexible_refusal_for_resident)
        # Flexible payments are ledger rows: payments prices and marks them paid through the
        # scheme registry it offers (payments may not import this app, which sits above it).
        from payments.schemes import register_scheme

        from .ledger import FlexibleScheme

        register_scheme(FlexibleScheme())
        register_other_scheme_check_many(flexible_refusals_for_residents)
