"""Issue 12, the caseworker's workbench: what a caseworker sees on the enrollment screens —
plain Chinese, choices that can succeed, defaults from the user's regions and the business date."""

import re
from datetime import date

import pytest

from enrollment.idnumbers import mask
from enrollment.models import Enrollment, Resident

from .support import caseworker, msgs, number, person

pytestmark = pytest.mark.usefixtures("policies")

RESIDENTS = "/admin/enrollment/resident/"
ENROLLMENTS = "/admin/enrollment/enrollment/"
BUSINESS_DAY = date(2026, 11, 30)


@pytest.fixture
def business_day(settings):
    settings.BUSINESS_DATE = BUSINESS_DAY
    return BUSINESS_DAY


@pytest.fixture
def lueliang(client, business_day):
    user = caseworker("cw141", "141100", "141181")
    client.force_login(user)
    return user


def year_choices(resp) -> list[tuple[str, str]]:
    return [(str(v), str(label)) for v, label in resp.context["form"].fields["year"].choices]


# --- item 1: 登记参保 offers the published years, defaults to one, and says why in Chinese -------


def test_register_form_offers_only_the_published_years_of_the_selection(client, lueliang):
    zhao = person("141102", "19800501", "011", name="赵一", today=BUSINESS_DAY)
    resp = client.post(RESIDENTS, {"action": "register_for_year", "_selected_action": [zhao.pk]})
    assert resp.status_code == 200
    # 吕梁 has published 2026 only: 2027 (the next year) has no policy and is not offered
    assert year_choices(resp) == [("2026", "2026 年度")]
    assert resp.context["form"]["year"].value() == 2026
    html = resp.content.decode()
    assert '<select name="year"' in html and '<option value="2026" selected>2026 年度</option>' in html


def test_register_form_defaults_to_the_next_year_when_it_is_published(client, business_day):
    client.force_login(caseworker("cw310", "310000"))
    wang = person("310101", "19800501", "011", name="王一", today=BUSINESS_DAY)
    resp = client.post(RESIDENTS, {"action": "register_for_year", "_selected_action": [wang.pk]})
    assert year_choices(resp) == [("2027", "2027 年度"), ("2025", "2025 年度")]
    assert resp.context["form"]["year"].value() == 2027


def test_a_year_without_a_policy_is_refused_by_the_form(client, lueliang):
    zhao = person("141102", "19800501", "011", name="赵一", today=BUSINESS_DAY)
    resp = client.post(RESIDENTS, {"action": "register_for_year", "_selected_action": [zhao.pk],
                                   "apply": "1", "year": "2027", "registered_via": "community"})
    assert resp.status_code == 200
    assert resp.context["form"].errors["year"] == ["请选择所列的已发布政策年度"]
    assert not Enrollment.objects.exists()


def test_a_refusal_is_plain_chinese_and_names_the_person_once(client, lueliang):
    zhao = person("141102", "19800501", "011", name="赵一", today=BUSINESS_DAY)
    resp = client.post(RESIDENTS, {"action": "register_for_year", "_selected_action": [zhao.pk],
                                   "apply": "1", "year": "2026", "registered_via": "community"})
    assert resp.status_code == 302
    assert msgs(resp) == [f"赵一（{mask(zhao.id_number)}）：吕梁市 2026 年度“城乡居民”补缴时须一并缴纳的财政补助标准，"
                          "来源文件未给出"]
    assert not Enrollment.objects.exists()


# --- item 2: the birth date shows on the resident's page ----------------------------------------


def test_the_resident_page_shows_the_birth_date_in_its_date_input(client, lueliang):
    zhao = person("141102", "19800501", "011", name="赵一", today=BUSINESS_DAY)
    html = client.get(f"{RESIDENTS}{zhao.pk}/change/").content.decode()
    field = re.search(r'<input type="date" name="birth_date"[^>]*>', html).group(0)
    assert 'value="1980-05-01"' in field and "disabled" in field
    assert Resident.objects.get(pk=zhao.pk).birth_date == date(1980, 5, 1)


def test_the_add_form_takes_an_iso_birth_date(client, lueliang):
    number_ = number("141102", "19800501", "022")
    resp = client.post(f"{RESIDENTS}add/", {
        "id_number": number_, "birth_date": "1980-05-01", "name": "钱二", "region": "141100", "hukou": "local",
        "student": "", "school": "", "phone": "", "enrollments-TOTAL_FORMS": "0", "enrollments-INITIAL_FORMS": "0"})
    assert resp.status_code == 302, resp.context["adminform"].form.errors
    assert Resident.objects.get(id_number=number_).birth_date == date(1980, 5, 1)
