"""Issue 8, the import items: a race across regions, zip bombs and long cells, coverage
out of range or of another region's resident, invisible characters in names, NUL bytes,
non-ASCII digits, a binary file named .xlsx."""

import io
import sys
import threading
import zipfile
from datetime import date

import pytest
from django.db import connection

from enrollment import idnumbers
from enrollment.idnumbers import make_number
from enrollment.imports import HELD_ELSEWHERE, import_employee_coverage, import_residents
from enrollment.models import EmployeeCoverage, Enrollment, Resident
from enrollment.services import EnrollmentError, resident_create
from enrollment.spreadsheet import SpreadsheetError, read_grid

from .import_support import COVERAGE_HEADER, NINGBO_WOMAN, XIAOYI_MAN, csv_bytes, counts
from .support import caseworker, clone

TODAY = date(2026, 11, 1)
RACE_DAY = date(2026, 11, 3)  # Lüliang's 2027 collection window
LVLIANG_NEW = make_number("14110219850101123")
HEADER_YEAR = ["姓名", "身份证号码", "户籍", "居住证", "学生类别", "参保地", "参保年度"]


def lines(result) -> list[str]:
    return [str(e) for e in result.errors]


# --- item 1: cross-region takeover by race -----------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("policies")
@pytest.mark.parametrize("year", ["", "2027"])
@pytest.mark.parametrize("skip_invalid", [False, True])
def test_resident_created_elsewhere_while_import_runs_is_not_taken_over(monkeypatch, skip_invalid, year):
    if year:
        clone("141100", 2026, 2027)
    lvliang = caseworker("ll_worker", "141100")
    other = make_number("14110219900101123")
    data = csv_bytes([["王五", other, "本地", "无", "", "141100", year],
                      ["张三", LVLIANG_NEW, "本地", "无", "", "141100", year]], header=HEADER_YEAR)
    module = sys.modules[import_residents.__module__]
    real = module.write_residents

    done = []

    def ningbo_creates_it_meanwhile(*args, **kwargs):
        if done:  # the write again, without the refused row
            return real(*args, **kwargs)

        def ningbo():
            try:
                resident_create(id_number=LVLIANG_NEW, name="宁波人", region="330200", today=TODAY,
                                actor=None)
                done.append(True)
            finally:
                connection.close()

        t = threading.Thread(target=ningbo)  # its own connection, committed before the write
        t.start()
        t.join(30)
        assert done == [True]
        return real(*args, **kwargs)

    monkeypatch.setattr(module, "write_residents", ningbo_creates_it_meanwhile)
    result = import_residents(data, "a.csv", actor=lvliang, user=lvliang, today=RACE_DAY,
                              skip_invalid=skip_invalid)

    assert lines(result) == [f"row 3: 身份证号码: {HELD_ELSEWHERE}"]
    held = Resident.objects.get(id_number=LVLIANG_NEW)
    assert (held.name, held.region_id) == ("宁波人", "330200")
    assert not Enrollment.objects.filter(resident=held).exists()
    assert result.rejected is (not skip_invalid)
    if skip_invalid:
        assert Resident.objects.filter(id_number=other, region_id="141100").exists()
        assert (result.created, result.updated) == (1, 0)
        assert result.registered == (1 if year else 0)
        assert Enrollment.objects.filter(resident__id_number=other, year=2027).count() == (1 if year else 0)
    else:  # nothing half-written
        assert not Resident.objects.filter(id_number=other).exists()
        assert not Enrollment.objects.exists()


# --- item 3: zip bombs and long cells ---------------------------------------------------------


def xlsx_with_shared_string(text_size: int) -> bytes:
    """A minimal workbook whose A2 is one shared string of text_size 'A's."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml",
                   '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
                   'content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-'
                   'package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
                   '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-'
                   'officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/'
                   'sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.'
                   'worksheet+xml"/><Override PartName="/xl/sharedStrings.xml" ContentType="application/'
                   'vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>')
        z.writestr("_rels/.rels",
                   '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/'
                   '2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/'
                   'officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>'
                   '</Relationships>')
        z.writestr("xl/workbook.xml",
                   '<?xml version="1.0"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/'
                   '2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
                   '<sheets><sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>')
        z.writestr("xl/_rels/workbook.xml.rels",
                   '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/'
                   '2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/'
                   'officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>'
                   '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
                   'relationships/sharedStrings" Target="sharedStrings.xml"/></Relationships>')
        z.writestr("xl/worksheets/sheet1.xml",
                   '<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/'
                   '2006/main"><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>姓名</t></is></c></row>'
                   '<row r="2"><c r="A2" t="s"><v>0</v></c></row></sheetData></worksheet>')
        z.writestr("xl/sharedStrings.xml",
                   '<?xml version="1.0"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/'
                   'main" count="1" uniqueCount="1"><si><t>' + "A" * text_size + "</t></si></sst>")
    return buf.getvalue()


def test_zip_bomb_is_refused_before_loading(settings):
    bomb = xlsx_with_shared_string(8 * 1024 * 1024)  # 8 MB of one character: ~8 KB packed
    assert len(bomb) < 100_000
    settings.SPREADSHEET_MAX_UNCOMPRESSED_BYTES = 4 * 1024 * 1024
    with pytest.raises(SpreadsheetError, match="解压后过大"):
        read_grid(bomb, "bomb.xlsx")
    settings.SPREADSHEET_MAX_UNCOMPRESSED_BYTES = 200 * 1024 * 1024
    with pytest.raises(SpreadsheetError, match="压缩比异常"):  # under the size cap, yet a bomb
        read_grid(bomb, "bomb.xlsx")


def test_a_small_workbook_still_reads():
    grid = read_grid(xlsx_with_shared_string(10), "ok.xlsx")
    assert grid == [["姓名"], ["A" * 10]]


@pytest.mark.django_db
def test_a_cell_over_the_cap_is_a_row_error_never_echoed_whole(settings):
    settings.SPREADSHEET_MAX_CELL_CHARS = 1000
    data = csv_bytes([["张" * 5000, NINGBO_WOMAN, "本地", "无", "", "330200"]])
    before = counts()
    result = import_residents(data, "a.csv", today=TODAY)
    assert result.rejected
    assert "row 2: 姓名: 超过 1000 个字" in lines(result)
    assert all(len(line) < 200 for line in lines(result))
    assert counts() == before


def test_a_binary_file_named_xlsx_is_not_called_a_csv():
    with pytest.raises(SpreadsheetError, match=r"不是有效的 \.xlsx"):
        read_grid(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe" * 20, "roster.xlsx")


# --- item 7: coverage out of range, or for another region's resident ----------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("row, expected", [
    (["李四", NINGBO_WOMAN, "330200", "0000", ""], "row 2: 参保年度: "),
    (["李四", NINGBO_WOMAN, "330200", "9999", ""], "row 2: 参保年度: "),
    (["李四", NINGBO_WOMAN, "330200", "2025", "0001-01-01"], "row 2: 中断日期: "),
    (["李四", NINGBO_WOMAN, "330200", "2025", "9999-12-31"], "row 2: 中断日期: "),
    (["李四", NINGBO_WOMAN, "999999", "2025", ""], "row 2: 参保地: 未知地区 999999"),
])
def test_coverage_out_of_range_is_a_row_error(row, expected):
    result = import_employee_coverage(csv_bytes([row], header=COVERAGE_HEADER), "c.csv", today=TODAY)
    assert result.rejected
    assert [line for line in lines(result) if line.startswith(expected)]
    assert not EmployeeCoverage.objects.exists()


@pytest.mark.django_db
@pytest.mark.usefixtures("policies")
def test_caseworker_may_not_write_coverage_for_another_regions_resident():
    resident_create(id_number=NINGBO_WOMAN, name="李四", region="330200", today=TODAY, actor=None)
    lvliang = caseworker("ll_worker", "141100")
    data = csv_bytes([["李四", NINGBO_WOMAN, "141100", "2025", ""]], header=COVERAGE_HEADER)
    result = import_employee_coverage(data, "c.csv", actor=lvliang, user=lvliang, today=TODAY)
    assert lines(result) == [f"row 2: 身份证号码: {HELD_ELSEWHERE}"]
    assert not EmployeeCoverage.objects.exists()


# --- items 8, 9, 11: invisible characters, NUL, non-ASCII digits --------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["张\x07三", "\x1b[31m张三", "张\u200b三", "张三\u200f", "\u202e张三",
                                  "张\ufeff三"])
def test_names_with_invisible_characters_are_row_errors(name):
    before = counts()
    data = csv_bytes([[name, NINGBO_WOMAN, "本地", "无", "", "330200"]])
    result = import_residents(data, "a.csv", today=TODAY)
    assert lines(result) == ["row 2: 姓名: 含有不可见或控制字符"]
    assert counts() == before


@pytest.mark.django_db
@pytest.mark.usefixtures("policies")
def test_service_refuses_a_name_with_invisible_characters():
    with pytest.raises(EnrollmentError, match="不可见或控制字符"):
        resident_create(id_number=NINGBO_WOMAN, name="张\u202e三", region="330200", today=TODAY,
                        actor=None)
    assert not Resident.objects.exists()


@pytest.mark.django_db
def test_nul_byte_in_a_csv_name_is_a_clean_error():
    data = csv_bytes([["张\x00三", NINGBO_WOMAN, "本地", "无", "", "330200"]])
    before = counts()
    with pytest.raises(SpreadsheetError, match="空字符"):
        import_residents(data, "a.csv", today=TODAY)
    assert counts() == before


@pytest.mark.parametrize("digits", ["٠١٢٣٤٥٦٧٨٩", "۰۱۲۳۴۵۶۷۸۹", "०१२३४५६७८९"])
def test_non_ascii_digits_are_not_an_id_number(digits):
    ascii_number = XIAOYI_MAN
    # the first 17 digits foreign, the check digit ASCII: int() reads them, so the check passed
    foreign = "".join(digits[int(c)] for c in ascii_number[:17]) + ascii_number[17]
    with pytest.raises(idnumbers.IdNumberError):
        idnumbers.parse(foreign)
    assert idnumbers.parse("１４" + ascii_number[2:]).number == ascii_number  # full-width still fold


@pytest.mark.django_db
def test_import_with_arabic_indic_digits_gives_a_row_error():
    foreign = "".join("٠١٢٣٤٥٦٧٨٩"[int(c)] for c in NINGBO_WOMAN[:17]) + NINGBO_WOMAN[17]
    before = counts()
    result = import_residents(csv_bytes([["李四", foreign, "本地", "无", "", "330200"]]), "a.csv",
                              today=TODAY)
    assert result.rejected
    assert [line.split(":")[1].strip() for line in lines(result)] == ["身份证号码"]
    assert counts() == before


# --- item 3: a bad value is echoed cut, never whole ---------------------------------------------


def test_echo_quotes_short_values_as_before_and_cuts_long_ones():
    from enrollment.imports.common import echo

    assert echo("农村") == "'农村'"
    assert echo("") == "''"
    assert echo("a" * 50) == repr("a" * 50)
    assert echo("a" * 1000) == repr("a" * 50) + "…"
    assert echo("a" * 60, limit=5) == "'aaaaa'…"


@pytest.mark.django_db
@pytest.mark.parametrize("column", ["户籍", "居住证", "学生类别", "参保地", "参保年度"])
def test_a_long_bad_cell_is_echoed_cut_by_the_command(tmp_path, settings, column):
    from io import StringIO

    from django.core.management import call_command

    settings.SPREADSHEET_MAX_CELL_CHARS = 1000
    row = dict(zip(HEADER_YEAR, ["李四", NINGBO_WOMAN, "本地", "无", "", "330200", ""]))
    row[column] = "农" * 1000  # at the reader's cap: not cut by it, so only echo() keeps it short
    path = tmp_path / "a.csv"
    path.write_bytes(csv_bytes([list(row.values())], header=HEADER_YEAR))
    before = counts()
    out, err = StringIO(), StringIO()
    with pytest.raises(SystemExit) as exit_:
        call_command("import_residents", str(path), stdout=out, stderr=err)
    assert exit_.value.code == 1
    (message, summary) = err.getvalue().splitlines()
    assert message.startswith(f"row 2: {column}: ")
    assert message.endswith(repr("农" * 50) + "…")
    assert len(message) < 120
    assert summary.startswith("rejected: 1 invalid row(s)")
    assert counts() == before


@pytest.mark.django_db
def test_a_long_bad_coverage_cell_is_echoed_cut():
    data = csv_bytes([["李四", NINGBO_WOMAN, "宁" * 1000, "2025", "日" * 1000]], header=COVERAGE_HEADER)
    result = import_employee_coverage(data, "c.csv", today=TODAY)
    assert result.rejected
    assert [line.split(":")[1].strip() for line in lines(result)] == ["参保地", "中断日期"]
    assert all(len(line) < 120 and line.endswith("…") for line in lines(result))
    assert not EmployeeCoverage.objects.exists()
