"""Robustness suite: schemathesis over /api/v1/openapi.json, in-process against the WSGI app.

Every documented operation gets generated requests (valid and not) with a token of its scope (staff; channel for the payment channels' operations; pool for the family pool's);
none may answer 5xx, every error must be the contract's ``{"error": {"code", "message"}}``
(INTERFACES.md §2/§5) as JSON, and every answer must match the documented schema.
Bounded (``max_examples``) so the whole module runs in well under a minute.
"""

import json

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (content_type_conformance, response_schema_conformance,
                                               status_code_conformance)

MAX_EXAMPLES = 40
CHANNEL_PATHS = {"/dues", "/payments", "/payment-records", "/back-payments"}


def _load():
    """The document as served, called through the WSGI app.  (Loading it here, not in a fixture:
    schemathesis' ``from_fixture`` fails under pytest 9.  The view touches no database.)"""
    from config.openapi import schema as document
    from config.wsgi import application

    loaded = schemathesis.openapi.from_dict(document())
    loaded.app = application
    return loaded


schema = _load()


@pytest.fixture(autouse=True)
def _keep_the_test_connection():
    """Called as a WSGI app, Django closes the database connection when a request ends,
    and with it the test's transaction; its test client unhooks this, and so do we."""
    from django.core import signals
    from django.db import close_old_connections

    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


def errors_in_the_contracts_shape(ctx, response, case):
    if response.status_code < 400:
        return None
    assert response.headers.get("Content-Type", [""])[0] == "application/json" or \
        response.headers.get("content-type", [""])[0] == "application/json", response.headers
    body = json.loads(response.content)
    assert isinstance(body, dict) and set(body) == {"error"}, body
    err = body["error"]
    assert set(err) == {"code", "message"}, err
    assert isinstance(err["code"], str) and err["code"], err
    assert isinstance(err["message"], str) and err["message"], err
    return None


@pytest.mark.usefixtures("policies")
@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, print_blob=True,
          suppress_health_check=list(HealthCheck))
def test_api_never_500_and_errors_keep_the_contract(case, staff_token, channel_token, pool_token):
    # each operation with a token of its own scope, so the generated bodies reach the view
    token = (channel_token if case.path in CHANNEL_PATHS
             else pool_token if case.path.startswith("/pool/") and not case.path.endswith("/settlements")
             else staff_token)
    response = case.call(headers={"Authorization": f"Bearer {token}"})
    case.validate_response(response, checks=[not_a_server_error, status_code_conformance,
                                             content_type_conformance, response_schema_conformance,
                                             errors_in_the_contracts_shape])


@pytest.mark.django_db
@schema.parametrize()
@settings(max_examples=10, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_api_without_a_token_is_401_in_the_contracts_shape(case):
    response = case.call()
    case.validate_response(response, checks=[not_a_server_error, errors_in_the_contracts_shape])
    assert response.status_code in (401, 405)  # 405: schemathesis also tries undocumented methods
