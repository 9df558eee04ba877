from django.apps import AppConfig


class FamilyPoolConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "family_pool"
    verbose_name = "家庭共济"

    def ready(self):
        from . import accounts  # noqa: F401  (the 30 June settlement task, for Celery)
        from . import jobs_import  # noqa: F401  (register the accounts import with core.batch)
        from . import batch_admin, jobs  # noqa: F401  (the December batch: engine job, admin pages)
        from payments.models import Channel
        from payments.refunds import REFUND_RECEIVERS

        from .accounts import pool_refund_entry

        # a refund of what the pool paid goes back to the organizer's account (payments asks; it
        # does not import this floor)
        REFUND_RECEIVERS[Channel.FAMILY_POOL] = (
            lambda paid, amount, **kw: pool_refund_entry(paid, amount, **kw) is not None)
