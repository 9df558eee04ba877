"""Audit trail: database triggers (django-pghistory) record every insert,
update and delete with the acting user, so set-based and bulk writes are
recorded too.  Services wrap their writes in ``audit_context(actor, ...)``;
web requests get the user from pghistory's middleware."""

import contextlib

import pghistory


def tracked():
    """Class decorator: record inserts, updates (before/after) and deletes."""
    return pghistory.track(
        pghistory.InsertEvent(),
        pghistory.UpdateEvent(),
        pghistory.DeleteEvent(),
    )


@contextlib.contextmanager
def audit_context(actor=None, **extra):
    """Attach who (and why) to every change made inside the block."""
    ctx = {k: v for k, v in extra.items() if v is not None}
    if actor is not None:
        if getattr(actor, "pk", None) is not None:
            ctx["user"] = actor.pk
            ctx["username"] = actor.get_username()
        else:
            ctx["actor"] = str(actor)
    with pghistory.context(**ctx):
        yield
