"""Audit trail: database triggers (django-pghistory) record every insert,
update and delete with the acting user, so set-based and bulk writes are
recorded too.  Services wrap their writes in ``audit_context(actor, ...)``;
web requests get the user from pghistory's middleware."""

import contextlib
import uuid

import pghistory
from pghistory import runtime


# Tables that set-based bulk paths write thousands of rows at a time get statement-level
# triggers: the same events (one per row, with the acting context), written by one
# ``INSERT … SELECT`` from the statement's transition table instead of one PL/pgSQL call
# per row (bench/RESULTS.md, "Default renewal on the batch engine": 45 µs a row less;
# the residents import's upsert fires both the insert and the update statement triggers,
# each with the rows it inserted or changed: bench/RESULTS.md, imports).
STATEMENT_LEVEL = {"enrollment.Enrollment", "enrollment.Resident", "subsidies.AssistanceIdentity",
                   "subsidies.OwedRefund"}


def tracked(level=None, event_indexes=None):
    """Class decorator: record inserts, updates (before/after) and deletes.

    ``level``: ``pghistory.Row`` or ``pghistory.Statement``; by default statement
    level for the bulk tables in ``STATEMENT_LEVEL``, row level for the others.
    ``event_indexes``: indexes of the event table beyond those its fields bring (a column
    the table finds through a composite index keeps a single-column one on its events)."""

    def decorate(model):
        chosen = level
        if chosen is None and model._meta.label in STATEMENT_LEVEL:
            chosen = pghistory.Statement
        return pghistory.track(
            pghistory.InsertEvent(),
            pghistory.UpdateEvent(),
            pghistory.DeleteEvent(),
            level=chosen,
            **({"meta": {"indexes": event_indexes}} if event_indexes else {}),
        )(model)

    return decorate


@contextlib.contextmanager
def audit_context(actor=None, **extra):
    """Attach who (and why) to every change made inside the block.

    Inside another context (a web request's, a command's) the block gets a context row
    of its own — the outer metadata plus this block's — and the outer one is restored
    afterwards.  pghistory itself would merge nested metadata into the outer row, so a
    later block's action would relabel every event written before it."""
    ctx = {k: v for k, v in extra.items() if v is not None}
    if actor is not None:
        if getattr(actor, "pk", None) is not None:
            ctx["user"] = actor.pk
            ctx["username"] = actor.get_username()
        else:
            ctx["actor"] = str(actor)
    outer = getattr(runtime._tracker, "value", None)
    if outer is None:
        with pghistory.context(**ctx):
            yield
        return
    runtime._tracker.value = runtime.Context(id=uuid.uuid4(), metadata={**outer.metadata, **ctx})
    try:
        yield
    finally:
        runtime._tracker.value = outer
