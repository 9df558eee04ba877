"""The admin import pages (django-import-export) over the import services: upload → preview
→ confirm, in plain Chinese (templates/admin/enrollment/import.html), with a template to
download and 跳过错误行."""

from __future__ import annotations

import io

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse, HttpResponseRedirect
from django.urls import path, reverse
from import_export.admin import ImportMixin
from openpyxl import Workbook

from ..forms import ChineseImportForm, ServiceConfirmImportForm, ServiceImportForm
from ..resources import SpreadsheetFormat


class ServiceImportMixin(ImportMixin):
    """The admin import (upload → preview → confirm) over the import services."""

    import_formats = [SpreadsheetFormat]
    import_form_class = ServiceImportForm
    confirm_form_class = ServiceConfirmImportForm
    import_template_name = "admin/enrollment/import.html"
    skip_admin_log = True  # the audit trail (pghistory) records every row written

    def get_import_resource_classes(self, request):
        return [self.import_resource]

    def get_import_data_kwargs(self, request, *args, **kwargs):
        return {}

    def get_import_form_class(self, request):
        return ServiceImportForm if self.import_resource.supports_skip_invalid else ChineseImportForm

    def get_import_resource_kwargs(self, request, *args, **kwargs):
        form = kwargs.get("form")
        data = getattr(form, "cleaned_data", None) or {}
        return {"skip_invalid": bool(data.get("skip_invalid"))} if self.import_resource.supports_skip_invalid else {}

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        return [path("import/template.xlsx", self.admin_site.admin_view(self.import_template_xlsx),
                     name="%s_%s_import_template" % info)] + super().get_urls()

    def import_template_xlsx(self, request):
        """An empty file with the columns the import reads (required, then optional)."""
        if not self.has_import_permission(request):
            raise PermissionDenied
        resource = self.import_resource
        wb = Workbook(write_only=True)
        ws = wb.create_sheet(str(self.opts.verbose_name))
        ws.append([*resource.required, *resource.optional])
        buf = io.BytesIO()
        wb.save(buf)
        response = HttpResponse(buf.getvalue(),
                                content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        response["Content-Disposition"] = f'attachment; filename="{self.opts.model_name}-template.xlsx"'
        return response

    def get_confirm_form_initial(self, request, import_form):
        initial = super().get_confirm_form_initial(request, import_form)
        if import_form is not None:
            initial["skip_invalid"] = bool(import_form.cleaned_data.get("skip_invalid"))
        return initial

    def import_action(self, request, **kwargs):
        """The preview.  With 跳过错误行 ticked, a file with faulty rows may still be confirmed:
        its good rows are imported and the faulty ones reported."""
        response = super().import_action(request, **kwargs)
        ctx = getattr(response, "context_data", None)
        if ctx is None:
            return response
        form, result = ctx.get("form"), ctx.get("result")
        if (result is not None and "confirm_form" not in ctx and not result.has_errors()
                and result.has_validation_errors() and form is not None and form.is_valid()
                and form.cleaned_data.get("skip_invalid") and result.valid_rows()):
            ctx["confirm_form"] = self.create_confirm_form(request, import_form=form)
        ctx["title"] = f"导入{self.opts.verbose_name}"
        ctx["columns_required"] = self.import_resource.required
        ctx["columns_optional"] = self.import_resource.optional
        ctx["template_url"] = reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_import_template")
        return response

    def process_import(self, request, **kwargs):
        """The confirmation: the file is kept and its import started in the background
        (a 批处理任务); the page returns at once to the run, which shows its progress."""
        from ..import_jobs import import_submit

        if not self.has_import_permission(request):
            raise PermissionDenied
        confirm_form = self.create_confirm_form(request)
        if not confirm_form.is_valid():
            return super().process_import(request, **kwargs)  # shows the form's errors
        tmp = self.get_tmp_storage_class()(name=confirm_form.cleaned_data["import_file_name"], encoding=None,
                                           read_mode="rb", **self.get_tmp_storage_class_kwargs())
        try:
            data = tmp.read()
        except OSError:
            self.message_user(request, "导入未执行：预览时上传的文件已过期，请重新上传", messages.ERROR)
            return HttpResponseRedirect(reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_import"))
        tmp.remove()
        run = import_submit(kind=self.import_resource.batch_kind, data=data,
                            filename=confirm_form.cleaned_data.get("original_file_name", "") or "upload",
                            actor=request.user, skip_invalid=bool(confirm_form.cleaned_data.get("skip_invalid"))).run
        self.message_user(request, f"已提交后台导入（批处理任务 #{run.pk}），本页显示进度与结果", messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:core_batchrun_change", args=[run.pk]))
