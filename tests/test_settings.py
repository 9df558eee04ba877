"""Production settings: refuse to start without their secrets; pass `check --deploy` with them.

Each case runs a fresh interpreter with a controlled environment (nothing
inherited but PATH), so the developer's own variables cannot make a test pass.
"""

import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(settings.BASE_DIR)
SETUP = "import django; django.setup(); from django.conf import settings; print(settings.DEBUG, settings.ALLOWED_HOSTS)"


def _database_url() -> str:
    db = settings.DATABASES["default"]
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def production_env(**overrides) -> dict:
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": "/tmp",
        "LANG": "C.UTF-8",
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "SECRET_KEY": secrets.token_urlsafe(64),
        "DATABASE_URL": _database_url(),
        "ALLOWED_HOSTS": "yibao.example.gov.cn,www.yibao.example.gov.cn",
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
    }
    for key, value in overrides.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


WEAK_KEYS = ["short-but-set", "django-insecure-" + "x" * 60]
CASES = {
    **{f"missing {name}": (["-c", SETUP], {name: None})
       for name in ("SECRET_KEY", "DATABASE_URL", "ALLOWED_HOSTS")},
    "all missing": (["-c", SETUP], {"SECRET_KEY": None, "DATABASE_URL": None, "ALLOWED_HOSTS": None,
                                    "CELERY_BROKER_URL": None}),
    "empty": (["-c", SETUP], {"SECRET_KEY": "", "ALLOWED_HOSTS": ""}),
    **{f"weak {key}": (["-c", SETUP], {"SECRET_KEY": key}) for key in WEAK_KEYS},
    "complete": (["-c", SETUP], {"DEBUG": "true"}),
    "check --deploy": (["manage.py", "check", "--deploy", "--fail-level", "WARNING"], {}),
}


@pytest.fixture(scope="module")
def results():
    """Every case above, run side by side in fresh interpreters (a second or so in all)."""
    procs = {name: subprocess.Popen([sys.executable, *args], stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True, cwd=ROOT,
                                    env=production_env(**overrides))
             for name, (args, overrides) in CASES.items()}
    out = {}
    for name, proc in procs.items():
        stdout, stderr = proc.communicate(timeout=60)
        out[name] = subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)
    return out


@pytest.mark.parametrize("missing", ["SECRET_KEY", "DATABASE_URL", "ALLOWED_HOSTS"])
def test_production_refuses_to_start_without(results, missing):
    proc = results[f"missing {missing}"]
    assert proc.returncode != 0
    assert proc.stdout == ""
    assert ("django.core.exceptions.ImproperlyConfigured: production settings need these "
            f"environment variables: {missing}\n") in proc.stderr


def test_production_names_every_missing_variable(results):
    proc = results["all missing"]
    assert proc.returncode != 0
    assert ("production settings need these environment variables: "
            "SECRET_KEY, DATABASE_URL, ALLOWED_HOSTS, CELERY_BROKER_URL") in proc.stderr


def test_empty_values_count_as_missing(results):
    proc = results["empty"]
    assert proc.returncode != 0
    assert "production settings need these environment variables: SECRET_KEY, ALLOWED_HOSTS\n" in proc.stderr


@pytest.mark.parametrize("key", WEAK_KEYS)
def test_production_refuses_a_weak_secret_key(results, key):
    proc = results[f"weak {key}"]
    assert proc.returncode != 0
    assert "SECRET_KEY must be a random string of at least 50 characters" in proc.stderr


def test_production_starts_with_every_variable_set(results):
    proc = results["complete"]
    assert proc.returncode == 0, proc.stderr
    # DEBUG cannot be switched on in production, and the host list is read as a list
    assert proc.stdout == "False ['yibao.example.gov.cn', 'www.yibao.example.gov.cn']\n"


def test_check_deploy_passes_without_warnings(results):
    proc = results["check --deploy"]
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.strip() == "System check identified no issues (0 silenced)."
    assert "WARNINGS" not in proc.stderr


OPTIONS = ("import django; django.setup(); from django.conf import settings; "
           "print(settings.DATABASES['default'].get('OPTIONS', {}).get('options'))")


@pytest.mark.parametrize("overrides, expected", [
    ({}, "-c random_page_cost=1.1 -c pgtrigger.ignore={}"),
    ({"DATABASE_RANDOM_PAGE_COST": "2"}, "-c random_page_cost=2.0 -c pgtrigger.ignore={}"),
    ({"DATABASE_RANDOM_PAGE_COST": ""}, "-c pgtrigger.ignore={}"),
    ({"DATABASE_URL": _database_url() + "?options=-c%20work_mem%3D64MB"},
     "-c work_mem=64MB -c random_page_cost=1.1 -c pgtrigger.ignore={}"),
    ({"DATABASE_STARTUP_OPTIONS": "false"}, "None"),
    ({"DATABASE_STARTUP_OPTIONS": "false",
      "DATABASE_URL": _database_url() + "?options=-c%20work_mem%3D64MB"}, "-c work_mem=64MB"),
])
def test_connection_options(overrides, expected):
    proc = subprocess.run([sys.executable, "-c", OPTIONS], capture_output=True, text=True,
                          cwd=ROOT, env=production_env(**overrides), timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == expected


def test_a_bad_page_cost_is_refused():
    proc = subprocess.run([sys.executable, "-c", OPTIONS], capture_output=True, text=True,
                          cwd=ROOT, env=production_env(DATABASE_RANDOM_PAGE_COST="fast"), timeout=60)
    assert proc.returncode != 0
    assert "DATABASE_RANDOM_PAGE_COST" in proc.stderr


@pytest.mark.django_db
def test_the_test_database_connection_has_its_options_and_statistics():
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SHOW random_page_cost")
        assert cur.fetchone()[0] == "1.1"
        # read by every audit trigger: set, so the read does not fail (see config/settings/base.py)
        cur.execute("SELECT current_setting('pgtrigger.ignore')::text[] = '{}'")
        assert cur.fetchone()[0] is True
        cur.execute("SELECT stxkeys::text, stxkind::text FROM pg_statistic_ext "
                    "WHERE stxname = 'enrollment_year_region_status_stats'")
        keys, kinds = cur.fetchone()
    assert sorted(kinds.strip("{}").split(",")) == ["f", "m"]  # functional dependencies, most common values
    assert len(keys.split()) == 3
