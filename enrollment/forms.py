"""The admin import forms in plain Chinese, with 跳过错误行 (import the good rows of a file
with faulty ones; the faulty rows are listed in the run's error report)."""

from django import forms
from import_export.forms import ConfirmImportForm, ImportForm


class ChineseImportForm(ImportForm):
    def __init__(self, formats, resources, **kwargs):
        super().__init__(formats, resources, **kwargs)
        self.fields["import_file"].label = "文件"
        self.fields["import_file"].help_text = "xlsx 或 csv（UTF-8 或 GBK），第一行（或标题行之后）为列名"
        self.fields["format"].label = "文件格式"
        self.fields["format"].choices = [(v, "请选择" if label == "---" else label)
                                         for v, label in self.fields["format"].choices]


class ServiceImportForm(ChineseImportForm):
    skip_invalid = forms.BooleanField(
        label="跳过错误行", required=False,
        help_text="勾选后，有错误的行不导入、列入错误报告，其余各行照常导入；不勾选时，文件有任何错误行则整份不导入")

    field_order = ["resource", "import_file", "format", "skip_invalid"]


class ServiceConfirmImportForm(ConfirmImportForm):
    skip_invalid = forms.BooleanField(required=False, widget=forms.HiddenInput())
