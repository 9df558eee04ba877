"""The admin import pages (django-import-export) over the import services."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.urls import reverse
from import_export.admin import ImportMixin

from ..resources import SpreadsheetFormat


class ServiceImportMixin(ImportMixin):
    """The admin import (upload → preview → confirm) over the import services."""

    import_formats = [SpreadsheetFormat]
    skip_admin_log = True  # the audit trail (pghistory) records every row written

    def get_import_resource_classes(self, request):
        return [self.import_resource]

    def get_import_data_kwargs(self, request, *args, **kwargs):
        return {}

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
                            actor=request.user).run
        self.message_user(request, f"已提交后台导入（批处理任务 #{run.pk}），本页显示进度与结果", messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:core_batchrun_change", args=[run.pk]))

