"""django-import-export on top of the import services: the admin's preview and
confirmation call exactly the functions the commands call (enrollment.imports)."""

from __future__ import annotations

import tablib
from django.core.exceptions import ValidationError
from django.utils.text import Truncator
from import_export import fields, resources
from import_export.formats.base_formats import Format
from import_export.results import Error, Result, RowResult

from . import idnumbers
from .imports import (
    COVERAGE_OPTIONAL,
    COVERAGE_REQUIRED,
    RESIDENT_OPTIONAL,
    RESIDENT_REQUIRED,
    import_employee_coverage_table,
    import_residents_table,
)
from .imports.common import ECHO_LIMIT
from .models import EmployeeCoverage, Resident
from .spreadsheet import SpreadsheetError, plain, read_grid, table_from_grid


class SpreadsheetFormat(Format):
    """.xlsx or .csv (UTF-8, UTF-8 with BOM, GBK), read by enrollment.spreadsheet."""

    def __init__(self, encoding=None):  # the confirm step passes the admin's from_encoding
        self.encoding = encoding

    def get_title(self):
        return "xlsx / csv（UTF-8 或 GBK）"

    def create_dataset(self, in_stream, **kwargs):
        data = in_stream if isinstance(in_stream, bytes) else in_stream.encode()
        try:
            grid = read_grid(data)
        except SpreadsheetError as exc:
            # The admin would only name the exception class; import_data reports the reason.
            ds = tablib.Dataset(["—"], headers=["文件错误"])
            ds.spreadsheet_error = exc
            return ds
        width = max((len(r) for r in grid), default=0)
        ds = tablib.Dataset()
        if grid:
            ds.headers = [h or f"列{i + 1}" for i, h in enumerate(grid[0] + [""] * (width - len(grid[0])))]
            for row in grid[1:]:
                ds.append(row + [""] * (width - len(row)))
        return ds

    def is_binary(self):
        return True

    def get_read_mode(self):
        return "rb"

    def get_extension(self):
        return "xlsx"

    def can_import(self):
        return True


def _grid(dataset) -> list[list[str]]:
    return [list(dataset.headers or [])] + [list(r) for r in dataset]


class _ServiceResource(resources.ModelResource):
    """import_data delegates to a service; the Result tells the admin what would happen."""

    required: list[str] = []
    optional: list[str] = []
    supports_skip_invalid = False  # the service imports the good rows of a faulty file when asked

    def __init__(self, skip_invalid: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.skip_invalid = skip_invalid

    def run_service(self, table, *, dry_run, user):  # pragma: no cover - abstract
        raise NotImplementedError

    def import_data(self, dataset, dry_run=False, raise_errors=False, use_transactions=None,
                    collect_failed_rows=False, rollback_on_validation_errors=False, **kwargs):
        user = kwargs.get("user")
        result = Result()
        result.diff_headers = [*self.required, *self.optional, "处理"]
        try:
            if getattr(dataset, "spreadsheet_error", None) is not None:
                raise dataset.spreadsheet_error
            table = table_from_grid(_grid(dataset), required=self.required, optional=self.optional)
        except SpreadsheetError as exc:
            # An Error holds an exception (its traceback is shown): the message alone.
            result.append_base_error(Error(exc.with_traceback(None)))
            return result
        outcome = self.run_service(table, dry_run=dry_run, user=user)
        result.total_rows = outcome.total_rows
        by_row = {}
        for error in outcome.errors:
            by_row.setdefault(error.row, []).append(error)
        values_by_row = dict(table.rows)
        for row, errors in sorted(by_row.items()):
            # A faulty row's cells as the preview shows them: never a whole 1,000-character cell.
            values = {k: Truncator(plain(v)).chars(ECHO_LIMIT, truncate="…")
                      for k, v in values_by_row.get(row, {}).items()}
            if values.get("身份证号码"):  # shown masked, as everywhere a full number is not needed
                values["身份证号码"] = idnumbers.mask(values["身份证号码"])
            messages = {}
            for e in errors:
                messages.setdefault(e.column, []).append(f"第 {row} 行：{e.reason}")
            result.append_invalid_row(row, values, ValidationError(messages))
            rr = RowResult()
            rr.import_type = RowResult.IMPORT_TYPE_INVALID
            result.increment_row_result_total(rr)
        for item in self.preview_rows(outcome):
            result.append_row_result(item)
            result.increment_row_result_total(item)
        self.outcome = outcome
        return result

    def preview_rows(self, outcome):
        return []


class ResidentImportResource(_ServiceResource):
    batch_kind = "import_residents"
    required = RESIDENT_REQUIRED
    optional = RESIDENT_OPTIONAL

    class Meta:
        model = Resident
        fields = ("name", "id_number", "hukou", "residence_permit", "student", "region")
        import_id_fields = ("id_number",)

    supports_skip_invalid = True

    def run_service(self, table, *, dry_run, user):
        return import_residents_table(table, dry_run=dry_run, actor=user, user=user, skip_invalid=self.skip_invalid)

    def preview_rows(self, outcome):
        kinds = {"new": RowResult.IMPORT_TYPE_NEW, "update": RowResult.IMPORT_TYPE_UPDATE,
                 "unchanged": RowResult.IMPORT_TYPE_SKIP}
        hukou = {"local": "本地", "nonlocal": "外地"}
        student = {"": "", "primary_secondary": "中小学生", "college": "大学生"}
        for p in outcome.rows[:1000]:
            rr = RowResult()
            rr.import_type = kinds[p.action]
            if p.register == "new" and p.action == "unchanged":
                rr.import_type = RowResult.IMPORT_TYPE_UPDATE
            rr.object_repr = f"{p.name}（{idnumbers.mask(p.id_number)}）"
            action = {"new": "新增", "update": "更新", "unchanged": "无变化"}[p.action]
            if p.register == "new":
                action += f"；登记 {p.year} 年度，应缴 {p.quote.amount_due} 元"
            elif p.register == "already":
                action += f"；{p.year} 年度已登记"
            rr.diff = [p.name, idnumbers.mask(p.id_number), hukou[p.hukou], "有" if p.residence_permit else "无",
                       student[p.student], p.region_id, p.year or "", action]
            yield rr


# A cell starting with one of these is a formula to a spreadsheet program (OWASP CSV injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise_formula(value):
    """Text that a spreadsheet would run as a formula, prefixed with ' so it stays text."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


class ResidentExportResource(resources.ModelResource):
    """Exports mask ID numbers unless the user may see them in full, and never carry a
    live formula (names such as ``=HYPERLINK(...)`` are written as text, prefixed with ')."""

    id_number = fields.Field(attribute="id_number", column_name="身份证号码")
    name = fields.Field(attribute="name", column_name="姓名")
    sex = fields.Field(attribute="get_sex_display", column_name="性别")
    birth_date = fields.Field(attribute="birth_date", column_name="出生日期")
    hukou = fields.Field(attribute="get_hukou_display", column_name="户籍")
    residence_permit = fields.Field(column_name="居住证")
    student = fields.Field(attribute="get_student_display", column_name="学生类别")
    region = fields.Field(attribute="region_id", column_name="参保地")

    class Meta:
        model = Resident
        fields = ("name", "id_number", "sex", "birth_date", "hukou", "residence_permit", "student", "region")
        export_order = fields

    def __init__(self, **kwargs):
        super().__init__()
        request = kwargs.get("request")
        self.full_ids = bool(request and request.user.has_perm("enrollment.view_full_id_number"))

    def export_field(self, field, instance, **kwargs):
        return neutralise_formula(super().export_field(field, instance, **kwargs))

    def dehydrate_id_number(self, obj):
        return obj.id_number if self.full_ids else idnumbers.mask(obj.id_number)

    def dehydrate_residence_permit(self, obj):
        return "有" if obj.residence_permit else "无"


class EmployeeCoverageImportResource(_ServiceResource):
    batch_kind = "import_employee_coverage"
    required = COVERAGE_REQUIRED
    optional = COVERAGE_OPTIONAL

    class Meta:
        model = EmployeeCoverage
        fields = ("id_number", "name", "region_code", "year", "ended_on")
        import_id_fields = ("id_number", "year")

    supports_skip_invalid = True

    def run_service(self, table, *, dry_run, user):
        return import_employee_coverage_table(table, dry_run=dry_run, actor=user, user=user,
                                              skip_invalid=self.skip_invalid)

    def preview_rows(self, outcome):
        if outcome.total_rows:
            rr = RowResult()
            rr.import_type = RowResult.IMPORT_TYPE_NEW
            rr.object_repr = f"{outcome.total_rows - len({e.row for e in outcome.errors})} 行"
            rr.diff = ["", "", "", "", "", "待导入"]
            yield rr
