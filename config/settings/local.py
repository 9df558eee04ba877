"""Developer machine: embedded PostgreSQL/Redis when nothing is configured."""

from config.embedded import configure_environment

configure_environment()

from .base import *  # noqa: E402,F401,F403
from .base import env  # noqa: E402

DEBUG = env.bool("DEBUG", default=True)
SECRET_KEY = env("SECRET_KEY", default="local-development-only-not-secret")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])

use_connection_pool(DATABASES, env.int("DATABASE_POOL_MAX", default=8),  # noqa: F405
                    env.float("DATABASE_POOL_TIMEOUT", default=30.0))
