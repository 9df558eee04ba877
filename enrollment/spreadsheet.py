"""Reading departments' spreadsheets: .xlsx, and .csv in UTF-8 (with or without BOM) or GBK.

Headers are Chinese, in any order; extra columns are ignored.  The header row
is the first of the first HEADER_SEARCH_ROWS rows that holds every required
column (departments put a title row, merged cells or notes above it); header
cells are compared without spaces, line breaks, "*" and "（必填）" markers.
Every cell comes back as text with surrounding spaces removed and full-width
characters folded (NFKC); row numbers are the ones a spreadsheet shows (the
first row is 1, whatever sits above the header).
Numbers are never read as floats: an ID number saved as a number in Excel
has lost digits, and the reader says so instead of guessing.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation

from django.conf import settings


class SpreadsheetError(ValueError):
    """The file as a whole cannot be read (format, encoding, missing columns)."""


@dataclass
class Table:
    headers: list[str]
    rows: list[tuple[int, dict[str, str]]]  # (spreadsheet row number, {header: text})
    # (row, column, reason) of cells over the length cap; their text is cut to the cap.
    cell_errors: list[tuple[int, str, str]] = field(default_factory=list)


NUMERIC_CELL = "\x00numeric:"  # prefix marking a cell Excel held as a number
FORMULA_CELL = "\x00formula"  # a formula cell saved without its value (written by a program, not Excel)
FORMULA_REASON = "单元格为公式且文件未保存计算结果；请在 Excel 中打开并保存，或将该列“选择性粘贴为数值”后再导入"
HEADER_SEARCH_ROWS = 20  # the header row is looked for among this many first rows


def clean_text(value) -> str:
    if value is None:
        return ""
    return unicodedata.normalize("NFKC", str(value)).strip()


# After NFKC: "（必填）" is "(必填)", "＊" is "*".  A marker ends the cell, an asterisk may lead it.
_HEADER_MARK = re.compile(r"^\*+|(\*|[(\[【](必填|必填项|选填|可选|非必填)[)\]】])+$")


def clean_header(value) -> str:
    """The column name in a header cell: no whitespace (line breaks included), no "*" or
    "（必填）" marker, full-width characters folded."""
    text = "".join(clean_text(plain(str(value or ""))).split())
    previous = None
    while previous != text:
        previous, text = text, _HEADER_MARK.sub("", text)
    return text


def _limit(name: str, default: int) -> int:
    return getattr(settings, name, default)


def max_cell_chars() -> int:
    return _limit("SPREADSHEET_MAX_CELL_CHARS", 1000)


def has_invisible(text: str) -> bool:
    """Control (Cc: NUL, BEL, ESC...), format (Cf: zero-width, bidi marks), private-use,
    surrogate or line/paragraph-separator characters: nothing a name may hold."""
    return any(unicodedata.category(c) in ("Cc", "Cf", "Co", "Cs", "Zl", "Zp") for c in text)


def _check_xlsx_zip(data: bytes) -> None:
    """Refuse a file that is not a zip, or would inflate beyond the caps, before any parse."""
    try:
        members = zipfile.ZipFile(io.BytesIO(data)).infolist()
    except (zipfile.BadZipFile, ValueError, OSError):
        raise SpreadsheetError("无法读取 Excel 文件：不是有效的 .xlsx 文件（应为 Excel 工作簿；旧版 .xls 请另存为 .xlsx）") from None
    total = sum(m.file_size for m in members)
    packed = sum(m.compress_size for m in members)
    cap = _limit("SPREADSHEET_MAX_UNCOMPRESSED_BYTES", 200 * 1024 * 1024)
    if total > cap:
        raise SpreadsheetError(f"Excel 文件解压后过大（超过 {cap // (1024 * 1024)} MB），"
                               "请拆分后导入或另存为 CSV")
    ratio = _limit("SPREADSHEET_MAX_COMPRESSION_RATIO", 250)
    for m in members:  # small parts (styles, themes) may compress well; large ones are checked
        if m.file_size > 1024 * 1024 and m.file_size > ratio * max(m.compress_size, 1):
            raise SpreadsheetError(f"Excel 文件压缩比异常（超过 {ratio} 倍），已拒绝读取")
    if packed and total > 1024 * 1024 and total > ratio * packed:
        raise SpreadsheetError(f"Excel 文件压缩比异常（超过 {ratio} 倍），已拒绝读取")


def _cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, datetime):
        # a date cell (midnight) reads as the date; a date-time cell keeps its time of day, to the
        # second (a payment's 缴费时间 typed as an Excel date-time must not become noon)
        if value.time() == time():
            return value.date().isoformat()
        return value.replace(microsecond=0).isoformat(sep=" ")
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


def _read_xlsx(data: bytes, index: int = 0) -> list[list[str]]:
    """One sheet (the first by default), read by python-calamine (Rust): 100,000 rows in 1.3 s where
    openpyxl's read-only mode took 15.5 s, side by side (bench/RESULTS.md, imports).  Its cells are those
    openpyxl gave, but for empty cells ("" for None), integral numbers (2027.0 for 2027)
    and dates (date for datetime at midnight): ``_cell_text`` makes the same text of both.
    A formula cell saved without a value (calamine reads it as empty) is marked FORMULA_CELL."""
    from python_calamine import CalamineWorkbook

    _check_xlsx_zip(data)
    try:
        sheet = CalamineWorkbook.from_filelike(io.BytesIO(data)).get_sheet_by_index(index)
        rows = sheet.to_python(skip_empty_area=False)  # from A1: row numbers as the sheet shows
    except Exception as exc:  # CalamineError, zip and XML errors...
        raise SpreadsheetError(f"无法读取 Excel 文件：{exc}") from None
    grid = [[_cell_text(v) for v in row] for row in rows]
    for r, c in _formulas_without_value(data, index):
        if r < len(grid) and (c >= len(grid[r]) or grid[r][c] == ""):
            grid[r].extend([""] * (c + 1 - len(grid[r])))
            grid[r][c] = FORMULA_CELL
    return grid


def xlsx_sheet_names(data: bytes) -> list[str]:
    from python_calamine import CalamineWorkbook

    _check_xlsx_zip(data)
    try:
        return list(CalamineWorkbook.from_filelike(io.BytesIO(data)).sheet_names)
    except Exception as exc:
        raise SpreadsheetError(f"无法读取 Excel 文件：{exc}") from None


_CELL_WITH_FORMULA = re.compile(rb'<c r="([A-Z]+)(\d+)"[^>]*?(?<!/)>(?:(?!</c>).)*?<f[ >/](?:(?!</c>).)*?</c>', re.S)


_CACHED_VALUE = re.compile(rb"<v(?:\s[^>]*)?>[^<]+</v>|<is>")


def _formulas_without_value(data: bytes, index: int) -> list[tuple[int, int]]:
    """(row, column) indexes from A1 of the formula cells of sheet ``index`` that hold no
    cached value (<v>).  Only looked for when the sheet holds a formula at all."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            book = z.read("xl/workbook.xml")
            rels = z.read("xl/_rels/workbook.xml.rels")
            ids = re.findall(rb'<sheet\b[^>]*?r:id="([^"]+)"', book)
            if index >= len(ids):
                return []
            target = re.search(rb'<Relationship\b[^>]*?Id="' + re.escape(ids[index]) + rb'"[^>]*?Target="([^"]+)"',
                               rels) or re.search(rb'<Relationship\b[^>]*?Target="([^"]+)"[^>]*?Id="'
                                                  + re.escape(ids[index]) + rb'"', rels)
            if target is None:
                return []
            path = target.group(1).decode().lstrip("/")
            path = path if path.startswith("xl/") else "xl/" + path
            xml = z.read(path)
    except (KeyError, zipfile.BadZipFile, OSError):
        return []
    if b"<f" not in xml:
        return []
    out = []
    for m in _CELL_WITH_FORMULA.finditer(xml):
        if _CACHED_VALUE.search(m.group(0)):
            continue
        col = 0
        for ch in m.group(1):
            col = col * 26 + ch - 64
        out.append((int(m.group(2)) - 1, col - 1))
    return out


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


def _csv_delimiter(text: str) -> str:
    """The separator that splits some early line into the most cells (the header's).

    csv.Sniffer wants lines alike; title and note lines above the header are not."""
    head = text[:65536]
    best, widest = ",", 0
    for delimiter in ",\t;":
        try:
            rows = [row for _, row in zip(range(HEADER_SEARCH_ROWS),
                                          csv.reader(io.StringIO(head), delimiter=delimiter))]
        except csv.Error:
            continue
        width = max((len(row) for row in rows), default=0)
        if width > widest:
            best, widest = delimiter, width
    return best


def _read_csv(data: bytes) -> list[list[str]]:
    text = decode_csv(data)
    if "\x00" in text:  # a binary file, or a cell posing as a numeric marker: never a name
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise SpreadsheetError(f"CSV 文件第 {line} 行含有空字符（NUL），不是有效的文本文件")
    reader = csv.reader(io.StringIO(text), delimiter=_csv_delimiter(text))
    normalize = unicodedata.normalize  # clean_text inlined: once a cell, 800,000 in a 100,000-row file
    try:
        return [[normalize("NFKC", v).strip() for v in row] for row in reader]
    except csv.Error as exc:  # a cell over the reader's limit, a stray NUL, …
        raise SpreadsheetError(f"CSV 文件第 {reader.line_num} 行无法读取：{exc}") from None


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
    """The table of the file.  In a workbook the first sheet is read; when it holds no
    header with the required columns, the other sheets are looked at in order and the
    first that holds one is read (departments often put notes or a cover first)."""
    grid = read_grid(data, filename)
    try:
        return table_from_grid(grid, required=required, optional=optional)
    except SpreadsheetError as first_error:
        if not (filename.lower().endswith(".xlsx") or data[:2] == b"PK"):
            raise
        names = xlsx_sheet_names(data)
        for index in range(1, len(names)):
            other = _read_xlsx(data, index)
            try:
                find_header(other, required)
            except SpreadsheetError:
                continue
            return table_from_grid(other, required=required, optional=optional)
        if len(names) > 1:
            raise SpreadsheetError(f"{first_error}；已查找全部 {len(names)} 个工作表"
                                   f"（{'、'.join(names[:10])}），均无此表头") from None
        raise


def _rows_searched(count: int) -> str:
    return "第 1 行" if count == 1 else f"第 1–{count} 行"


def find_header(grid: list[list[str]], required: list[str]) -> tuple[int, list[str]]:
    """(index in grid, cleaned names) of the first row among the first HEADER_SEARCH_ROWS
    that holds every required column; SpreadsheetError naming what is missing otherwise."""
    searched = grid[:HEADER_SEARCH_ROWS]
    closest, closest_found = None, 0
    for index, raw in enumerate(searched):
        names = [clean_header(cell) for cell in raw]
        found = sum(1 for c in required if c in names)
        if found == len(required):
            return index, names
        if found > closest_found:
            closest, closest_found = (index, names), found
    names = closest[1] if closest else []
    missing = [c for c in required if c not in names]
    where = (f"第 {closest[0] + 1} 行最接近" if closest else "没有一行含有这些列")
    raise SpreadsheetError(f"缺少列：{'、'.join(missing)}（已在{_rows_searched(len(searched))}中查找表头，"
                           f"{where}；表头应含：{'、'.join(required)}）")


def table_from_grid(grid: list[list[str]], *, required: list[str], optional: list[str] = ()) -> Table:
    if not grid:
        raise SpreadsheetError("文件为空")
    header_index, header_row = find_header(grid, required)
    wanted = {c: header_row.index(c) for c in [*required, *optional] if c in header_row}
    dupes = [c for c in wanted if header_row.count(c) > 1]
    if dupes:
        raise SpreadsheetError("表头重复：" + "、".join(dupes))
    rows, cell_errors = [], []
    first = header_index + 1
    cap = max_cell_chars()
    for number, raw in enumerate(grid[first:], start=first + 1):
        values = {c: (raw[i] if i < len(raw) else "") for c, i in wanted.items()}
        if not any(v.removeprefix(NUMERIC_CELL) for v in values.values()):
            continue  # a blank row keeps its number but is not data
        for c, v in values.items():
            if v == FORMULA_CELL:
                cell_errors.append((number, c, FORMULA_REASON))
                values[c] = ""
                continue
            if len(v) > cap:  # never echoed whole: cut to the cap, reported by length
                cell_errors.append((number, c, f"超过 {cap} 个字"))
                values[c] = v[:cap]
        rows.append((number, values))
    return Table(headers=list(wanted), rows=rows, cell_errors=cell_errors)


def is_numeric_cell(text: str) -> bool:
    return text.startswith(NUMERIC_CELL)


def plain(text: str) -> str:
    return text.removeprefix(NUMERIC_CELL)
