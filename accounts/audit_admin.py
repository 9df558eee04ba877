"""The auditor's trail (/admin/pghistory/events/), made to stay usable at millions of events."""

from pghistory.admin.core import EventsAdmin


class AuditTrailAdmin(EventsAdmin):
    # The unfiltered total is a count over the union of every event table: never asked.
    show_full_result_count = False
