"""Issue 8 item 14: eight concurrent 增加 of the same ID number: one is saved, the others
are form errors ("身份证号码 … 已登记"), none a 500."""

import threading

import pytest
from django.contrib.messages import get_messages
from django.db import connections
from django.test import Client

from enrollment.admin import residents as residents_admin
from enrollment.models import Resident
from enrollment.services import resident_create

from .support import caseworker, number

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("policies")]

ADD = "/admin/enrollment/resident/add/"


def add_data(id_number, name):
    return {"id_number": id_number, "name": name, "region": "330200", "hukou": "local", "student": "",
            "school": "", "phone": "", "birth_date": "",
            "enrollments-TOTAL_FORMS": "0", "enrollments-INITIAL_FORMS": "0"}


def test_eight_concurrent_adds_of_one_number_save_one_and_refuse_the_rest_as_form_errors():
    user = caseworker("cw330", "330200")
    n = number("330203", "19850607", "013")
    barrier = threading.Barrier(8, timeout=30)
    outcomes, errors = [None] * 8, []

    def run(i):
        try:
            client = Client()
            client.force_login(user)
            barrier.wait()
            resp = client.post(ADD, add_data(n if i % 2 else n.lower(), f"并发{i}"))
            if resp.status_code == 302:
                outcomes[i] = "saved"
            else:
                outcomes[i] = (resp.status_code, str(resp.context["adminform"].form.errors))
        except Exception as exc:  # noqa: BLE001 - a 500 raises in the test client
            errors.append(repr(exc))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert outcomes.count("saved") == 1
    refused = [o for o in outcomes if o != "saved"]
    assert len(refused) == 7
    assert all(code == 200 and "已登记" in text for code, text in refused)
    assert Resident.objects.filter(id_number=n).count() == 1


def test_a_number_created_by_another_path_after_the_form_was_checked_is_a_message(monkeypatch):
    """Imports and the API do not wait on the form's lock: the service's refusal at save time
    is a message and the add page again, not a 500."""
    user = caseworker("cw330", "330200")
    n = number("330203", "19850607", "013")
    real = residents_admin.resident_create

    def import_got_there_first(**kwargs):
        resident_create(id_number=n, name="导入的", region="330200", actor=None)
        return real(**kwargs)

    monkeypatch.setattr(residents_admin, "resident_create", import_got_there_first)
    client = Client()
    client.force_login(user)
    resp = client.post(ADD, add_data(n, "表单的"))
    assert resp.status_code == 302 and resp["Location"] == ADD
    assert any("已登记" in str(m) for m in get_messages(resp.wsgi_request))
    assert list(Resident.objects.values_list("name", flat=True)) == []  # the whole add rolled back
