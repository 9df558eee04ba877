"""Settings shared by every environment (read with django-environ)."""

from pathlib import Path

import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)  # optional, never committed

SECRET_KEY = env("SECRET_KEY", default="")
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=[])

INSTALLED_APPS = [
    "config.apps.BureauAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "pgtrigger",
    "pghistory",
    "pghistory.admin",
    "import_export",
    "core",
    "accounts",
    "policy",
    "enrollment",
    "subsidies",
    "payments",
    "family_pool",
    "flexible",
]

MIDDLEWARE = [
    # A token request under /api/ goes through API_MIDDLEWARE alone (core.middleware).
    "core.middleware.ApiTokenPathMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "core.middleware.ContentSecurityPolicyMiddleware",
    # Records who made each change in the audit trail (django-pghistory context).
    "core.middleware.AuditMiddleware",
]

# What a request under API_PATH_PREFIX with an Authorization header goes through instead of
# MIDDLEWARE: the token answers for it, so no session, locale, CSRF, authentication or
# messages (core.middleware.ApiTokenPathMiddleware; core/tests/test_api_path.py checks that
# every other middleware of MIDDLEWARE is here, in this order).
API_PATH_PREFIX = "/api/"
API_MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "core.middleware.ContentSecurityPolicyMiddleware",
    "core.middleware.AuditMiddleware",
]
API_SKIPPED_MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
# Content-Security-Policy on every answer (core.middleware); the admin loads only its own files.
CONTENT_SECURITY_POLICY = ("default-src 'self'; img-src 'self' data:; object-src 'none'; "
                           "base-uri 'self'; form-action 'self'; frame-ancestors 'none'")
# JSON API limits: a larger body is 413 payload_too_large; a longer quote array 422 invalid_input.
API_MAX_BODY_BYTES = env.int("API_MAX_BODY_BYTES", default=1024 * 1024)
API_QUOTE_MAX_ITEMS = env.int("API_QUOTE_MAX_ITEMS", default=1000)

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)


def use_connection_pool(databases: dict, size: int, timeout: float) -> None:
    """A pool of at most ``size`` connections per process (psycopg_pool): a request or task
    borrows one and gives it back, so a threaded web server holds at most ``size`` however
    many requests arrive (40 parallel requests once exhausted a shared server, one connection
    kept per thread by CONN_MAX_AGE).  Size PostgreSQL's max_connections for
    (web processes + Celery workers) x DATABASE_POOL_MAX + commands.  0 turns it off
    (CONN_MAX_AGE applies, e.g. behind PgBouncer).  Not used by the test settings: test
    threads that end without closing would keep their pooled connections."""
    if size > 0:
        databases["default"]["CONN_MAX_AGE"] = 0  # Django requires it with a pool
        databases["default"].setdefault("OPTIONS", {})["pool"] = {
            "min_size": 1, "max_size": size, "timeout": timeout}
# Settings each connection starts with (libpq "options"; those already in the URL come first).
_CONNECTION_OPTIONS = [DATABASES["default"].get("OPTIONS", {}).get("options", "")]
# The planner's cost of a random page read.  PostgreSQL's default (4) models spinning disks;
# on SSD or a RAM-cached server it makes the planner walk the primary key backwards past
# every newer year's rows for a filtered changelist (bench/RESULTS.md: 339 ms -> 65 ms at
# 1.9 million enrollments).  1.1 is the usual SSD figure; set DATABASE_RANDOM_PAGE_COST
# empty to leave the server's own setting alone.
_RANDOM_PAGE_COST = env.str("DATABASE_RANDOM_PAGE_COST", default="1.1")
if _RANDOM_PAGE_COST:
    try:
        _RANDOM_PAGE_COST = float(_RANDOM_PAGE_COST)
    except ValueError:
        raise ImproperlyConfigured(
            f"DATABASE_RANDOM_PAGE_COST: a number is needed, not {_RANDOM_PAGE_COST!r}") from None
    _CONNECTION_OPTIONS.append(f"-c random_page_cost={_RANDOM_PAGE_COST}")
# The audit triggers (pgtrigger/pghistory) first read this setting inside a PL/pgSQL
# exception block.  Unset, the read fails and the block's subtransaction is rolled back,
# and each such rollback scans the statement's whole queue of pending AFTER-trigger events:
# a bulk INSERT of n rows then costs O(n^2) (100,000 imported residents: 126 s of SQL).
# An empty list makes the read succeed; pgtrigger.ignore() still overrides it when used.
_CONNECTION_OPTIONS.append("-c pgtrigger.ignore={}")
# Server-side prepared statements for the few hot reads that ask for them (core.prepared: the
# channel API's resident, facts and published-policy reads): psycopg prepares such a read on a
# connection once it ran there this many times, and PostgreSQL stops planning it (most of its
# CPU for these short statements; bench/RESULTS.md, channel API).  Django's own cursors bind
# on the client and never prepare, whatever this says.  Empty: off — behind a pooler in
# transaction mode that does not keep prepared statements (PgBouncer before 1.21, or without
# max_prepared_statements).
_PREPARE_THRESHOLD = env.str("DATABASE_PREPARE_THRESHOLD", default="5")
if _PREPARE_THRESHOLD:
    try:
        DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = int(_PREPARE_THRESHOLD)
    except ValueError:
        raise ImproperlyConfigured(
            f"DATABASE_PREPARE_THRESHOLD: a whole number is needed, not {_PREPARE_THRESHOLD!r}") from None
# A pooler that refuses startup options (PgBouncer without ignore_startup_parameters):
# DATABASE_STARTUP_OPTIONS=false sends none, and the DBA sets both per database instead
# (README, "Production").
if env.bool("DATABASE_STARTUP_OPTIONS", default=True):
    DATABASES["default"].setdefault("OPTIONS", {})["options"] = " ".join(
        filter(None, _CONNECTION_OPTIONS))
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTHENTICATION_BACKENDS = ["accounts.backends.LockoutBackend"]
LOGIN_MAX_FAILURES = env.int("LOGIN_MAX_FAILURES", default=5)
LOGIN_LOCKOUT_MINUTES = env.int("LOGIN_LOCKOUT_MINUTES", default=15)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文")]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"

LOGIN_URL = "admin:login"

# The business date (INTERFACES.md section 1): BUSINESS_DATE=YYYY-MM-DD pins the date of
# core.clock outside production; production settings refuse to start with it set.
_BUSINESS_DATE = env.str("BUSINESS_DATE", default="").strip()
if _BUSINESS_DATE:
    import datetime as _dt
    import re as _re

    try:
        if not _re.fullmatch(r"\d{4}-\d{2}-\d{2}", _BUSINESS_DATE):
            raise ValueError(_BUSINESS_DATE)
        BUSINESS_DATE = _dt.date.fromisoformat(_BUSINESS_DATE)
    except ValueError:
        raise ImproperlyConfigured(
            f"BUSINESS_DATE: a date YYYY-MM-DD is needed, not {_BUSINESS_DATE!r}") from None
else:
    BUSINESS_DATE = None

# The bureau's name as shown on every admin page.
BUREAU_NAME = env("BUREAU_NAME", default="医疗保障局")
SITE_TITLE = f"{BUREAU_NAME} · 城乡居民医保经办系统"

# Policy data files (one per region and benefit year).
POLICY_DATA_DIR = BASE_DIR / "policies"

# Celery (config/celery.py reads every CELERY_* name).
CELERY_BROKER_URL = env("CELERY_BROKER_URL")
CELERY_RESULT_BACKEND = env("CELERY_RESULT_BACKEND", default=CELERY_BROKER_URL)
CELERY_TIMEZONE = TIME_ZONE
CELERY_ENABLE_UTC = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_TRACK_STARTED = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Batch engine (core.batch): a run whose heartbeat is older than this is taken over by the
# watchdog; task time limits stay well under the broker's visibility timeout, so Redis never
# hands a message to a second worker while the first may still be on it.
BATCH_STALE_SECONDS = env.int("BATCH_STALE_SECONDS", default=120)
BATCH_WATCHDOG_SECONDS = env.float("BATCH_WATCHDOG_SECONDS", default=30.0)
BATCH_TASK_TIME_LIMIT = env.int("BATCH_TASK_TIME_LIMIT", default=1800)
# Celery's Django fixup closes the database connection around every task; a worker then
# opens a new connection per chunk (2-3 s of CPU over a 1,000,000-row renewal, bench/RESULTS.md).
CELERY_DB_REUSE_MAX = env.int("CELERY_DB_REUSE_MAX", default=1000)
# The queue every task goes to unless routed (one per deployment sharing a Redis).
CELERY_TASK_DEFAULT_QUEUE = env("CELERY_QUEUE", default="celery")
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600)}
if BATCH_TASK_TIME_LIMIT >= CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"]:
    raise ImproperlyConfigured("BATCH_TASK_TIME_LIMIT must be below CELERY_VISIBILITY_TIMEOUT")
# The home page's summary (core.figures): which app recounts what — each app's own figures
# module reading its own tables (the composition is here, core never imports the apps).
FIGURE_REFRESHERS = [
    "enrollment.figures.figures_refresh",  # registered / paid per region and year
    "enrollment.figures.assisted_refresh",  # assisted people and amounts by funding source
    "enrollment.figures.reregistration_refresh",  # re-registration notices outstanding
    "payments.figures.refresh",  # payments per day and channel, last 30 days
    "subsidies.figures.refresh",  # roster identities per department
    "family_pool.figures.refresh",  # the December batch's decisions
    "flexible.figures.refresh",  # flexible-employment enrollments per status
]

CELERY_BEAT_SCHEDULE = {
    "batch-watchdog": {"task": "core.tasks.batch_watchdog", "schedule": BATCH_WATCHDOG_SECONDS},
    # The home page's figures: every refresher of FIGURE_REFRESHERS, recounted every 5 minutes.
    "refresh-figures": {"task": "core.tasks.refresh_figures", "schedule": 300},
    # Uploaded files hold ID numbers: deleted once no import needs them.
    "imports-cleanup": {"task": "enrollment.tasks.imports_cleanup", "schedule": crontab(minute=35)},
    # Default renewal starts once a region's enrollment window has opened.
    # Hourly, so a scheduler that was down on the opening day catches up the same day.
    "schedule-renewals": {"task": "enrollment.tasks.schedule_renewals",
                          "schedule": crontab(minute=5)},
    # The December family-pool deduction from the region's pool_batch_starts_on (hourly: catches up).
    "schedule-pool-batches": {"task": "family_pool.tasks.schedule_pool_batches", "schedule": crontab(minute=15)},
    # The 30 June account settlement (23:55), again on 1-7 July to catch up a missed day (idempotent).
    "settle-employee-accounts": {"task": "family_pool.accounts.settle_accounts_task",
                                 "schedule": crontab(minute=55, hour=23, day_of_month="30", month_of_year="6")},
    "settle-employee-accounts-catch-up": {"task": "family_pool.accounts.settle_accounts_task",
                                          "schedule": crontab(minute=40, hour=2, day_of_month="1-7",
                                                              month_of_year="7")},
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
}

# The auditor's trail (/admin/pghistory/events/): who (context), what, before -> after.
# The audit tables index a copied foreign key exactly when the tracked table does (DEFAULT:
# the field's own db_index): a reference the base table does not index is not searched in
# its history either, and every index costs each bulk-written row (bench/RESULTS.md).
from pghistory.config import ForeignKey as _EventForeignKey  # noqa: E402
from pghistory.constants import DEFAULT as _FIELD_DEFAULT  # noqa: E402

PGHISTORY_FOREIGN_KEY_FIELD = _EventForeignKey(db_index=_FIELD_DEFAULT)

# Unfiltered, the trail is a union over every event table (millions of rows after a renewal):
# the page asks for an event kind (事件模型) first.
PGHISTORY_ADMIN_ALL_EVENTS = False
PGHISTORY_ADMIN_CLASS = "accounts.audit_admin.AuditTrailAdmin"
PGHISTORY_ADMIN_LIST_DISPLAY = ["pgh_created_at", "pgh_label", "pgh_obj_model", "pgh_obj_id", "pgh_data",
                                "pgh_diff", "pgh_context"]

# django-import-export: importing needs "add", exporting "view" on the model.
IMPORT_EXPORT_IMPORT_PERMISSION_CODE = "add"
IMPORT_EXPORT_EXPORT_PERMISSION_CODE = "view"
IMPORT_EXPORT_TMP_STORAGE_CLASS = "import_export.tmp_storages.MediaStorage"
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / "var" / "media")
# Uploaded rosters hold ID numbers: readable by the server's user only.
FILE_UPLOAD_PERMISSIONS = 0o600
FILE_UPLOAD_DIRECTORY_PERMISSIONS = 0o700
# Spreadsheets: an .xlsx is refused before parsing when its parts would inflate beyond
# this, or a large part is compressed beyond the ratio (a zip bomb); a longer cell is a row error.
SPREADSHEET_MAX_UNCOMPRESSED_BYTES = env.int("SPREADSHEET_MAX_UNCOMPRESSED_BYTES", default=200 * 1024 * 1024)
SPREADSHEET_MAX_COMPRESSION_RATIO = env.int("SPREADSHEET_MAX_COMPRESSION_RATIO", default=250)
SPREADSHEET_MAX_CELL_CHARS = env.int("SPREADSHEET_MAX_CELL_CHARS", default=1000)
