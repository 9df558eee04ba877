"""Admin 工作日日历: the years the bureau holds a holiday arrangement for, each with its exception
days (weekdays off, weekends worked) as an inline.  A policy administrator enters a year the
library does not know yet; caseworkers and auditors read.  Registered from CoreConfig.ready."""

from django import forms
from django.contrib import admin
from django.db.models import Count, Q

from .models import CalendarDay, WorkdayCalendarYear
from .workdays import MANUAL_SOURCE, check_days


class CalendarDayFormSet(forms.BaseInlineFormSet):
    """Every day inside its year (the error on the row that is wrong)."""

    def clean(self):
        super().clean()
        year = self.instance.year
        for form in self.forms:
            data = getattr(form, "cleaned_data", None) or {}
            if data.get("DELETE") or not data.get("date"):
                continue
            for problem in check_days(year, [data["date"]]):
                form.add_error("date", problem)


class CalendarDayInline(admin.TabularInline):
    model = CalendarDay
    formset = CalendarDayFormSet
    fields = ["date", "is_workday", "name"]
    extra = 1
    ordering = ["date"]


@admin.register(WorkdayCalendarYear)
class WorkdayCalendarYearAdmin(admin.ModelAdmin):
    list_display = ["year", "source", "holidays", "working_weekends", "created_by", "updated_at"]
    list_display_links = ["year"]
    fields = ["year", "source", "notes", "created_by", "created_at", "updated_at"]
    readonly_fields = ["source", "created_by", "created_at", "updated_at"]
    inlines = [CalendarDayInline]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("created_by").annotate(
            n_holidays=Count("days", filter=Q(days__is_workday=False)),
            n_working=Count("days", filter=Q(days__is_workday=True)))

    def get_readonly_fields(self, request, obj=None):
        # the days belong to the year: renumbering it would move them all out of it
        return self.readonly_fields + (["year"] if obj is not None else [])

    @admin.display(description="放假（周一至周五）", ordering="n_holidays")
    def holidays(self, obj):
        return obj.n_holidays

    @admin.display(description="调休上班（周末）", ordering="n_working")
    def working_weekends(self, obj):
        return obj.n_working

    def save_model(self, request, obj, form, change):
        if not change:
            obj.source = MANUAL_SOURCE
            obj.created_by = request.user
        super().save_model(request, obj, form, change)
