"""Test settings: the given DATABASE_URL/CELERY_BROKER_URL, else the embedded engines."""

from config.embedded import configure_environment

configure_environment()

from .base import *  # noqa: E402,F401,F403

DEBUG = False
SECRET_KEY = "test-only-not-secret"
ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
LOGGING["root"]["level"] = "WARNING"  # noqa: F405
