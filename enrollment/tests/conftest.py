"""Fixtures the enrollment tests share."""

import pytest

from .support import caseworker


@pytest.fixture
def cw(client):
    """A Ningbo caseworker, logged in."""
    user = caseworker("cw330", "330200")
    client.force_login(user)
    return user
