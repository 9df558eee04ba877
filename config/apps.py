from django.contrib.admin.apps import AdminConfig


class BureauAdminConfig(AdminConfig):
    default_site = "config.admin_site.BureauAdminSite"

    def ready(self):
        super().ready()  # autodiscovers every app's admin module
        from . import admin  # noqa: F401  (the composition root's own registrations)
