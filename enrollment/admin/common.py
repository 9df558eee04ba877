"""What the enrollment admins share: the masked ID column, the ID-or-name search, and
bulk actions with a form, capped at ACTION_LIMIT and reporting each refusal."""

from __future__ import annotations

from django.contrib import admin, messages
from django.shortcuts import render

from .. import idnumbers

# One by one, each with the rules and an audit event: more belongs in an import or a command.
ACTION_LIMIT = 1000


def too_many_for_an_action(modeladmin, request, queryset) -> bool:
    """Refuse (with a message, nothing done) a selection larger than ACTION_LIMIT."""
    if queryset.order_by()[:ACTION_LIMIT + 1].count() <= ACTION_LIMIT:
        return False
    modeladmin.message_user(
        request, f"所选超过 {ACTION_LIMIT} 条，未办理：请用筛选缩小范围，或用导入（参保年度列）"
                 "或命令行批量办理", messages.ERROR)
    return True


def can_view_full_id(request) -> bool:
    return request.user.has_perm("enrollment.view_full_id_number")


def id_column(request, path: str):
    """A list_display column with the ID number, masked unless the user may see it.
    Built per request (ModelAdmin instances are shared between threads)."""
    full = can_view_full_id(request)

    def id_display(obj):
        number = obj
        for part in path.split("."):
            number = getattr(number, part)
        return number if full else idnumbers.mask(number)

    id_display.short_description = "身份证号码"
    return id_display


class MaskedIdColumnMixin:
    id_path = "id_number"

    @admin.display(description="身份证号码")
    def id_display(self, obj):  # replaced per request by get_list_display
        return "—"

    def get_list_display(self, request):
        return [id_column(request, self.id_path) if f == "id_display" else f
                for f in super().get_list_display(request)]


def refusal(name: str, id_number: str, message: str) -> str:
    """One refused person in an action's report: the name once, the masked ID number to tell
    two namesakes apart, then the reason (a service's message that starts with the name
    does not repeat it: "吴梓萱（…）：已登记 2027 年度", not "吴梓萱：吴梓萱 已登记 2027 年度")."""
    for lead in (f"{name} ", f"{name}：", name):
        if name and message.startswith(lead):
            message = message[len(lead):]
            break
    return f"{name}（{idnumbers.mask(id_number)}）：{message}"


def report_action(model_admin, request, done: str, failed: list[str]) -> None:
    """An action's outcome: what was done, then up to 20 refusals with their reasons."""
    if done:
        model_admin.message_user(request, done, messages.SUCCESS)
    for text in failed[:20]:
        model_admin.message_user(request, text, messages.ERROR)
    if len(failed) > 20:
        model_admin.message_user(request, f"另有 {len(failed) - 20} 条未能办理", messages.ERROR)


def form_action(model_admin, request, queryset, *, form_class, title: str, action: str, apply,
                initial: dict | None = None, describe=str):
    """A bulk action that first asks for a form (templates/admin/enrollment/action_form.html).
    On "apply" with a valid form, ``apply(cleaned_data)`` returns (done message, refusals),
    which are reported; a selection over ACTION_LIMIT is refused before anything.  The page
    lists the selection with ``describe(obj)`` (whom the action touches, by name and masked ID)."""
    if too_many_for_an_action(model_admin, request, queryset):
        return None
    if "apply" in request.POST:
        form = form_class(request.POST)
        if form.is_valid():
            done, failed = apply(form.cleaned_data)
            report_action(model_admin, request, done, failed)
            return None
    else:
        form = form_class(initial={"_selected_action": request.POST.getlist(admin.helpers.ACTION_CHECKBOX_NAME),
                                   **(initial or {})})
    return render(request, "admin/enrollment/action_form.html", {
        **model_admin.admin_site.each_context(request), "title": title, "form": form,
        "objects": [describe(obj) for obj in queryset[:50]], "count": queryset.count(), "action": action,
        "opts": model_admin.model._meta})


def id_search(queryset, term: str, field: str, name_field: str | None = None):
    """Exact ID number (normalised) when the term looks like one, else a name prefix (on
    ``name_field``, by default the ID's sibling ``name``)."""
    term = term.strip()
    if not term:
        return queryset
    number = idnumbers.normalise(term)
    if len(number) == 18 and number[:17].isdigit():
        return queryset.filter(**{field: number})
    return queryset.filter(**{(name_field or field.replace("id_number", "name")) + "__startswith": term})


class IdSearchMixin:
    """The search box finds the exact ID number or a name prefix (id_search) on the one
    field named in ``search_fields``, e.g. ``["resident__id_number"]``."""

    name_search_field = None  # where the name prefix is looked for, when not beside the ID

    def get_search_results(self, request, queryset, search_term):
        return id_search(queryset, search_term, self.search_fields[0], self.name_search_field), False
