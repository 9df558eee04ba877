from django.contrib.admin.apps import AdminConfig


class BureauAdminConfig(AdminConfig):
    default_site = "config.admin_site.BureauAdminSite"
