"""Who acts: services take ``actor``, a User or a string naming a process
("manage.py renew_enrollments", "api token bank"), and store the user, if any."""

from __future__ import annotations


def acting_user(actor):
    """The User behind ``actor``, or None for a string actor (or none at all)."""
    return actor if getattr(actor, "pk", None) is not None else None
