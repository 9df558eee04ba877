"""Shared fixtures: the bundled policies loaded once per test database, users by role."""

import json
from pathlib import Path

import pytest
from django.core.management import call_command

ROOT = Path(__file__).resolve().parent
SHARED_SCENARIOS = ROOT.parent / "shared" / "scenarios" / "quote_public.json"
BUNDLED_SCENARIOS = ROOT / "tests" / "data" / "quote_public.json"


def scenarios_path() -> Path:
    """The shared worked examples when beside the checkout, else the bundled copy."""
    return SHARED_SCENARIOS if SHARED_SCENARIOS.exists() else BUNDLED_SCENARIOS


def load_scenarios() -> dict:
    return json.loads(scenarios_path().read_text(encoding="utf-8"))


def load_bundled_policies():
    """load_policies plus the clones the worked examples ask for (idempotent)."""
    from io import StringIO

    call_command("load_policies", stdout=StringIO())
    for region, from_year, to_year in load_scenarios()["clones"]:
        call_command("clone_policy_year", region=region, from_year=from_year, to_year=to_year,
                     publish=True, stdout=StringIO())


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """Load the bundled policy years once per test database."""
    with django_db_blocker.unblock():
        load_bundled_policies()


@pytest.fixture
def policies(db):
    """The bundled policies (reloaded if a transactional test flushed them)."""
    from policy.models import PolicyYear

    if not PolicyYear.objects.exists():
        load_bundled_policies()
    _workday_calendar()


def _workday_calendar():
    """The working-day calendar a migration seeds (2024–2026), seeded again when a
    transactional test's flush emptied it — otherwise a later test's answer would depend on
    which tests ran before it."""
    from core.models import WorkdayCalendarYear
    from core.workdays import seed_from_library

    if not WorkdayCalendarYear.objects.exists():
        seed_from_library(range(2024, 2027), actor="tests")


@pytest.fixture(autouse=True)
def _clear_policy_cache():
    from policy.selectors import clear_cache

    clear_cache()
    yield
    clear_cache()


@pytest.fixture
def pool_token(db):
    from accounts.services import api_token_create

    _, raw = api_token_create(name="test-pool", scope="pool")
    return raw


@pytest.fixture
def staff_token(db):
    from accounts.services import api_token_create

    _, raw = api_token_create(name="test-staff", scope="staff")
    return raw


@pytest.fixture
def channel_token(db):
    from accounts.services import api_token_create

    _, raw = api_token_create(name="test-channel", scope="channel")
    return raw
