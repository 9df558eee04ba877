"""The admin's export form in plain Chinese: each column by its Chinese heading (the library
labels them "Name (姓名)", from the attribute's English name)."""

from import_export.forms import SelectableFieldsExportForm


class ChineseExportForm(SelectableFieldsExportForm):
    def __init__(self, formats, resources, **kwargs):
        super().__init__(formats, resources, **kwargs)
        self.fields["format"].label = "文件格式"
        self.fields["format"].choices = [(v, "请选择" if label == "---" else label.upper())
                                         for v, label in self.fields["format"].choices]
        if "resource" in self.fields:
            self.fields["resource"].label = "导出内容"

    def _get_field_label(self, resource, field_name: str) -> str:
        field = resource.fields.get(field_name)
        return field.column_name if field is not None and field.column_name else field_name
