"""Issue 8 items 4, 10, 12 and 13: bad input through the admin gives a message, never a 500;
the add form normalises ID numbers as imports do; exports neutralise formulas."""

import io
from datetime import date

import openpyxl
import pytest

from enrollment.models import Enrollment, Resident

from .support import msgs, number, person, register

pytestmark = pytest.mark.usefixtures("policies")

RESIDENTS = "/admin/enrollment/resident/"
ENROLLMENTS = "/admin/enrollment/enrollment/"
NINGBO_DAY = date(2024, 11, 1)


# --- item 4: actions with ids that are not numbers ---------------------------------------------

BAD_IDS = [["abc"], [""], ["1 OR 1=1"], ["1", "abc"], ["١٢"]]


@pytest.mark.parametrize("selected", BAD_IDS)
@pytest.mark.parametrize("url, action, extra", [
    (RESIDENTS, "register_for_year", {}),
    (RESIDENTS, "register_for_year", {"apply": "1", "year": "2025", "registered_via": "community"}),
    (RESIDENTS, "delete_selected", {}),
    (RESIDENTS, "delete_selected", {"post": "yes"}),
    (ENROLLMENTS, "cancel_with_reason", {}),
    (ENROLLMENTS, "cancel_with_reason", {"apply": "1", "reason": "x"}),
    (ENROLLMENTS, "start_default_renewal", {}),
])
def test_an_action_with_ids_that_are_not_numbers_is_a_message(client, cw, url, action, extra, selected):
    resident = person("330203", "19800101", "017", name="张一", today=NINGBO_DAY)
    register(resident, 2025, NINGBO_DAY)
    resp = client.post(url, {"action": action, "_selected_action": selected, **extra}, follow=True)
    assert resp.status_code == 200
    assert any("所选记录无效" in m for m in msgs(resp))
    assert Resident.objects.count() == 1 and Enrollment.objects.get().status == "registered"


# --- item 10: the add form normalises the ID number --------------------------------------------


def add_data(id_number, name):
    return {"id_number": id_number, "name": name, "region": "330200", "hukou": "local", "student": "",
            "school": "", "phone": "", "birth_date": "",
            "enrollments-TOTAL_FORMS": "0", "enrollments-INITIAL_FORMS": "0"}


def full_width(text):
    return "".join(chr(ord(c) + 0xFEE0) if c.isdigit() else c for c in text)


def an_x_number():
    for seq in range(100, 999):
        n = number("330203", "19850607", f"{seq:03d}")
        if n.endswith("X"):
            return n
    raise AssertionError


@pytest.mark.parametrize("spell", [
    lambda n: n.lower(),
    full_width,
    lambda n: f"{n[:6]} {n[6:14]} {n[14:]}",
    lambda n: f"{n[:6]}-{n[6:14]}-{n[14:]}",
    lambda n: f"  {full_width(n[:10])}{n[10:].lower()}  ",
], ids=["lower-x", "full-width", "spaces", "dashes", "mixed"])
def test_the_add_form_normalises_the_id_number(client, cw, spell):
    n = an_x_number()
    resp = client.post(f"{RESIDENTS}add/", add_data(spell(n), "规范人"))
    assert resp.status_code == 302, resp.context["adminform"].form.errors if resp.context else resp
    assert Resident.objects.get(name="规范人").id_number == n


def test_the_add_form_refuses_a_bad_number_with_a_plain_reason(client, cw):
    n = an_x_number()
    for bad in (n[:-1] + "0", "abc", "١" * 18):
        resp = client.post(f"{RESIDENTS}add/", add_data(bad, "坏号码"))
        assert resp.status_code == 200
        errors = str(resp.context["adminform"].form.errors)
        assert "身份证号码" in errors or "校验" in errors or "号码" in errors
        assert "constraint" not in errors and "_check" not in errors
    assert not Resident.objects.exists()


def test_adding_a_registered_number_again_is_a_form_error(client, cw):
    n = an_x_number()
    assert client.post(f"{RESIDENTS}add/", add_data(n, "第一")).status_code == 302
    resp = client.post(f"{RESIDENTS}add/", add_data(n.lower(), "第二"))
    assert resp.status_code == 200
    assert "已登记" in str(resp.context["adminform"].form.errors)


@pytest.mark.parametrize("name", ["张\x07三", "李\u200b四", "\u202e王五"])
def test_a_name_with_invisible_characters_is_a_form_error_and_the_form_keeps_what_was_typed(client, cw, name):
    n = an_x_number()
    resp = client.post(f"{RESIDENTS}add/", add_data(n, name))
    assert resp.status_code == 200
    form = resp.context["adminform"].form
    assert form.errors["name"] == ["姓名含有不可见或控制字符，请删除后重新输入"]
    assert form.data["id_number"] == n  # what the caseworker typed is still there
    assert not Resident.objects.exists()


# --- item 12: exports neutralise formulas ------------------------------------------------------

NASTY = ["=HYPERLINK(\"http://x\",\"y\")", "+1+1", "-2+3", "@SUM(A1)", "\tTAB", "\rCR"]


def export(client, fmt):
    url = f"{RESIDENTS}export/"
    form = client.get(url).context["form"]
    data = {"format": next(value for value, label in form.fields["format"].choices
                           if str(label).lower() == fmt),
            "resource": "0"}
    data.update({name: "on" for name in form.fields if name.startswith("residentexportresource_")})
    resp = client.post(url, data)
    assert resp.status_code == 200
    return resp


@pytest.fixture
def nasty_people():
    people = [person("330203", "19800101", f"{i * 2 + 11:03d}", name=f"张{i}", today=NINGBO_DAY)
              for i in range(len(NASTY))]
    for p, name in zip(people, NASTY):
        Resident.objects.filter(pk=p.pk).update(name=name)  # as an older import could have stored it
    return people


def test_csv_export_neutralises_formulas(client, cw, nasty_people):
    resp = export(client, "csv")
    assert resp["Content-Type"].startswith("text/csv")
    import csv

    rows = list(csv.reader(io.StringIO(resp.content.decode("utf-8-sig"))))
    names = {row[0] for row in rows[1:]}
    assert names == {"'" + n for n in NASTY}


def test_xlsx_export_has_no_live_formulas(client, cw, nasty_people):
    resp = export(client, "xlsx")
    wb = openpyxl.load_workbook(io.BytesIO(resp.content))
    ws = wb.active
    cells = [c for row in ws.iter_rows(min_row=2) for c in row]
    assert all(c.data_type != "f" for c in cells)
    names = {row[0].value.replace("\n", "\r") for row in ws.iter_rows(min_row=2)}  # XML keeps no bare CR
    assert names == {"'" + n for n in NASTY}


# --- item 13: filters with values that are not theirs ------------------------------------------


@pytest.mark.parametrize("query", [
    {"year": "abc"}, {"year": "1 OR 1=1"}, {"year": "99999999999999999999"}, {"year": "١٢"},
    {"paid": "abc"}, {"region": "abc"}, {"region": "9" * 40},
])
def test_enrollment_list_with_a_bad_filter_value_is_not_a_500(client, cw, query):
    resident = person("330203", "19800101", "017", name="张一", today=NINGBO_DAY)
    register(resident, 2025, NINGBO_DAY)
    resp = client.get(ENROLLMENTS, query, follow=True)
    assert resp.status_code == 200


@pytest.mark.parametrize("query", [{"region": "abc"}, {"region": "9" * 40}])
def test_resident_list_with_a_bad_region_is_not_a_500(client, cw, query):
    resp = client.get(RESIDENTS, query, follow=True)
    assert resp.status_code == 200
