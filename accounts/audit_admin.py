"""The auditor's trail (/admin/pghistory/events/), made to stay usable at millions of events,
and readable (issue 12, item 4): who, when (Asia/Shanghai), which record, what kind of change
and each field's before → after in Chinese (core.audit_display); searchable by person (ID
number or name), by user, and by date."""

from __future__ import annotations

import re
from datetime import date

from django.db.models import Q
from django.utils.html import format_html
from pghistory.admin.core import EventModelFilter, EventsAdmin, EventsChangeList, LabelFilter

from core import audit_display as show

_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class EventKindFilter(LabelFilter):
    title = "事件"

    def lookups(self, request, model_admin):
        return [(value, show.EVENT_LABELS.get(value, "其他")) for value, _ in super().lookups(request, model_admin)]


class RecordTypeFilter(EventModelFilter):
    title = "记录类型"

    def lookups(self, request, model_admin):
        return sorted(((value, show.model_name(label.replace("Event", "")))
                       for value, label in super().lookups(request, model_admin)), key=lambda kv: kv[1])


class SearchableEventsChangeList(EventsChangeList):
    """Unfiltered the trail shows nothing (a union of every event table); a search is a filter."""

    def get_queryset(self, request, exclude_parameters=None):
        if self.query:
            return super(EventsChangeList, self).get_queryset(request, exclude_parameters)
        return super().get_queryset(request)


class AuditTrailAdmin(EventsAdmin):
    # The unfiltered total is a count over the union of every event table: never asked.
    show_full_result_count = False
    change_list_template = "admin/pghistory/events_change_list.html"
    search_fields = ["pgh_obj_id"]  # the box; get_search_results decides what a term means
    search_help_text = "输入身份证号码或姓名（查此人的记录）、操作人的用户名，或日期（如 2026-11-30）"

    def get_changelist(self, request, **kwargs):
        return SearchableEventsChangeList

    def get_list_display(self, request):
        return ["when", "who", "record", "event", "action", "change"]

    def get_list_display_links(self, request, list_display):
        return None

    def get_list_filter(self, request):
        return [EventKindFilter, RecordTypeFilter, *super().get_list_filter(request)[2:]]

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        if getattr(response, "context_data", None) is not None:  # the library titles it "Events"
            response.context_data["title"] = "变更记录（审计）"
            response.context_data.pop("subtitle", None)
        return response

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        if _DAY.match(term):
            try:
                return queryset.filter(pgh_created_at__date=date.fromisoformat(term)), False
            except ValueError:
                return queryset.none(), False
        people = _residents(term)
        if people:
            about = Q()
            for pk in people:
                about |= Q(pgh_obj_model="enrollment.Resident", pgh_obj_id=str(pk)) | Q(pgh_data__resident_id=pk)
            return queryset.filter(about), False
        return queryset.filter(Q(pgh_context__username=term) | Q(pgh_context__actor=term)), False

    def when(self, obj):
        return show.local_time(obj.pgh_created_at)

    when.short_description = "时间"

    def who(self, obj):
        return show.who(obj.pgh_context)

    who.short_description = "操作人"

    def record(self, obj):
        return f"{show.model_name(obj.pgh_obj_model)} #{obj.pgh_obj_id}"

    record.short_description = "对象"

    def event(self, obj):
        return show.EVENT_LABELS.get(obj.pgh_label, "其他")

    event.short_description = "事件"

    def action(self, obj):
        return show.action_text(obj.pgh_context)

    action.short_description = "操作"

    def change(self, obj):
        rows = show.changes(obj.pgh_obj_model, obj.pgh_label, obj.pgh_diff, obj.pgh_data)
        return format_html("{}", show.mask_ids(show.changes_text(rows)) or "—")

    change.short_description = "变化（前 → 后）"


def _residents(term: str) -> list[int]:
    """The residents a term names — an exact ID number, else up to 20 by name — found in the
    residents' own audit events (accounts sits below enrollment and does not read its tables)."""
    from pghistory.models import Events

    number = re.sub(r"[\s-]", "", term).upper()
    if len(number) == 18 and number[:17].isdigit():
        found = Q(pgh_data__id_number=number)
    elif re.fullmatch(r"[\u3400-\u9fff·]{2,20}", term):
        found = Q(pgh_data__name=term)
    else:
        return []
    ids = (Events.objects.across("enrollment.residentevent").filter(found)
           .values_list("pgh_obj_id", flat=True).distinct()[:20])
    return sorted({int(pk) for pk in ids})
