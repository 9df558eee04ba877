"""Reading departments' spreadsheets: .xlsx, and .csv in UTF-8 (with or without BOM) or GBK.

Headers are Chinese, in any order; extra columns are ignored.  Every cell
comes back as text with surrounding spaces removed and full-width characters
folded (NFKC); row numbers are the ones a spreadsheet shows (header = 1).
Numbers are never read as floats: an ID number saved as a number in Excel
has lost digits, and the reader says so instead of guessing.
"""

from __future__ import annotations

import csv
import io
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation


class SpreadsheetError(ValueError):
    """The file as a whole cannot be read (format, encoding, missing columns)."""


@dataclass
class Table:
    headers: list[str]
    rows: list[tuple[int, dict[str, str]]]  # (spreadsheet row number, {header: text})


NUMERIC_CELL = "\x00numeric:"  # prefix marking a cell Excel held as a number


def clean_text(value) -> str:
    if value is None:
        return ""
    return unicodedata.normalize("NFKC", str(value)).strip()


def clean_header(value) -> str:
    text = clean_text(value)
    return text.replace("*", "").replace(" ", "").replace("\u3000", "")


def _cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, int):
        return NUMERIC_CELL + str(value)
    if isinstance(value, float):
        # Decimal(repr) keeps what Excel showed (172.8 -> "172.8"), never binary noise.
        try:
            d = Decimal(repr(value))
        except InvalidOperation:
            return NUMERIC_CELL + repr(value)
        text = format(d.normalize(), "f") if d == d.to_integral_value() else format(d, "f")
        return NUMERIC_CELL + text
    return clean_text(value)


def _read_xlsx(data: bytes) -> list[list[str]]:
    from openpyxl import load_workbook

    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # zipfile.BadZipFile, KeyError, InvalidFileException...
        raise SpreadsheetError(f"无法读取 Excel 文件：{exc}") from None
    try:
        ws = wb.worksheets[0]
        return [[_cell_text(v) for v in row] for row in ws.iter_rows(values_only=True)]
    finally:
        wb.close()


def decode_csv(data: bytes) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030")  # a superset of GBK
    except UnicodeDecodeError:
        raise SpreadsheetError("CSV 文件编码无法识别：应为 UTF-8 或 GBK") from None


def _read_csv(data: bytes) -> list[list[str]]:
    text = decode_csv(data)
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",\t;")
    except csv.Error:
        dialect = csv.excel
    return [[clean_text(v) for v in row] for row in csv.reader(io.StringIO(text), dialect)]


def read_grid(data: bytes, filename: str = "") -> list[list[str]]:
    """All cells of the first sheet (or the CSV) as text rows."""
    name = filename.lower()
    if name.endswith(".xlsx") or data[:2] == b"PK":
        return _read_xlsx(data)
    if name.endswith(".csv") or name.endswith(".txt") or not name:
        return _read_csv(data)
    raise SpreadsheetError(f"不支持的文件类型 {filename}：请使用 .xlsx 或 .csv")


def read_table(data: bytes, filename: str, *, required: list[str],
               optional: list[str] = ()) -> Table:
    return table_from_grid(read_grid(data, filename), required=required, optional=optional)


def table_from_grid(grid: list[list[str]], *, required: list[str], optional: list[str] = ()) -> Table:
    if not grid:
        raise SpreadsheetError("文件为空")
    header_row = [clean_header(h.removeprefix(NUMERIC_CELL)) for h in grid[0]]
    missing = [c for c in required if c not in header_row]
    if missing:
        raise SpreadsheetError("缺少列：" + "、".join(missing)
                               + "（第 1 行应为表头：" + "、".join(required) + "）")
    wanted = {c: header_row.index(c) for c in [*required, *optional] if c in header_row}
    dupes = [c for c in wanted if header_row.count(c) > 1]
    if dupes:
        raise SpreadsheetError("表头重复：" + "、".join(dupes))
    rows = []
    for number, raw in enumerate(grid[1:], start=2):
        values = {c: (raw[i] if i < len(raw) else "") for c, i in wanted.items()}
        if not any(v.removeprefix(NUMERIC_CELL) for v in values.values()):
            continue  # a blank row keeps its number but is not data
        rows.append((number, values))
    return Table(headers=list(wanted), rows=rows)


def is_numeric_cell(text: str) -> bool:
    return text.startswith(NUMERIC_CELL)


def plain(text: str) -> str:
    return text.removeprefix(NUMERIC_CELL)
