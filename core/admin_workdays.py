"""Admin 工作日日历: the years the bureau holds a holiday arrangement for, each with its exception
days (weekdays off, weekends worked) as an inline.  A policy administrator enters a year the
library does not know yet; caseworkers and auditors read.  Registered from CoreConfig.ready."""

from django import forms
from django.contrib import admin
from django.db.models import Count, Q

from .models import CalendarDay, WorkdayCalendarYear
from .workdays import MANUAL_SOURCE, check_days


class CalendarDayForm(forms.ModelForm):
    class Meta:
        model = CalendarDay
        fields = ["date", "is_workday", "name"]

    def __init__(self, *args, calendar_year: int | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.calendar_year = calendar_year

    def clean_date(self):
        """A day of another year is named as such before the uniqueness check (which would say
        only that the day exists — in that other year's calendar)."""
        day = self.cleaned_data.get("date")
        year = self.calendar_year
        if day is not None and year is not None and day.year != year:
            raise forms.ValidationError(f"{day:%Y-%m-%d} 不在 {year} 年内，请在 {day.year} 年的日历中录入")
        return day


class CalendarDayFormSet(forms.BaseInlineFormSet):
    """Every day inside its year (the error on the row that is wrong)."""

    def get_form_kwargs(self, index):
        year = getattr(self.instance, "year", None)  # the year being entered (also before it is saved)
        return {**super().get_form_kwargs(index), "calendar_year": year if isinstance(year, int) else None}

    def get_unique_error_message(self, unique_check):
        return "同一日期只能录入一行，请删除重复的行"

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
    form = CalendarDayForm
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
