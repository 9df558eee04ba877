"""Issue 8, each of the 14 items once more through the real path: a live server (a real
socket, real HTTP, the real PostgreSQL behind it, a thread per request), threads for the
races, the commands as a separate process.  The in-process tests of the same items are in
enrollment/tests/test_hardening_*.py, test_api.py, accounts/tests/test_lockout_race.py and
policy/tests/test_api.py; the connection limit (a live runserver under 40 parallel
requests) is tests/test_connection_pool.py.

Each test asserts exact statuses, and what the database holds afterwards."""

from __future__ import annotations

import csv
import http.client
import http.cookiejar
import io
import json
import os
import re
import subprocess
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import openpyxl
import pytest
from django.conf import settings as django_settings
from django.contrib.auth.backends import ModelBackend
from django.db import connection

from accounts.models import LoginFailure
from core.models import BatchRun
from enrollment.idnumbers import make_number
from enrollment.imports import HELD_ELSEWHERE
from enrollment.models import EmployeeCoverage, Enrollment, Resident
from enrollment.tests.import_support import COVERAGE_HEADER, NINGBO_MAN, NINGBO_WOMAN, counts, csv_bytes
from enrollment.tests.support import PASSWORD, caseworker, clone, number, person, register
from enrollment.tests.test_hardening_imports import xlsx_with_shared_string

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("policies")]

ROOT = Path(__file__).resolve().parents[2]
LOGIN = "/admin/login/"
RESIDENTS = "/admin/enrollment/resident/"
ENROLLMENTS = "/admin/enrollment/enrollment/"
ADD = f"{RESIDENTS}add/"
IMPORT = f"{RESIDENTS}import/"
PROCESS = f"{RESIDENTS}process_import/"
COVERAGE_IMPORT = "/admin/enrollment/employeecoverage/import/"
ARABIC_INDIC = "٠١٢٣٤٥٦٧٨٩"


# --- a browser over real HTTP --------------------------------------------------------------------


@dataclass
class Reply:
    status: int
    headers: dict
    body: bytes
    url: str

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self):
        assert self.headers.get("content-type", "").startswith("application/json"), self.headers
        return json.loads(self.body)

    def error(self) -> tuple[int, str]:
        """(status, the contract's error code); the body must be the contract's error object."""
        data = self.json()
        assert set(data) == {"error"} and set(data["error"]) == {"code", "message"}, data
        return self.status, data["error"]["code"]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # a 3xx comes back as it is; Browser follows GETs itself


class Browser:
    """Cookies, the CSRF token of the last form page, multipart uploads; nothing of Django's
    test client: every call is a request on a socket to the live server."""

    def __init__(self, base: str):
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect)
        self.token = ""

    def cookie(self, name: str) -> str:
        return next((c.value for c in self.jar if c.name == name), "")

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None,
                follow: bool = False) -> Reply:
        req = urllib.request.Request(self.base + path if path.startswith("/") else path, data=body,
                                     method=method, headers={"Referer": self.base + "/", **(headers or {})})
        try:
            with self.opener.open(req, timeout=60) as resp:
                reply = Reply(resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read(),
                              resp.url)
        except urllib.error.HTTPError as exc:
            reply = Reply(exc.code, {k.lower(): v for k, v in exc.headers.items()}, exc.read(), path)
        found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', reply.text)
        if found:
            self.token = found.group(1)
        if follow and reply.status in (301, 302, 303):
            return self.request("GET", urllib.parse.urljoin(path, reply.headers["location"]), follow=True)
        return reply

    def get(self, path: str, follow: bool = True, **headers) -> Reply:
        return self.request("GET", path, headers=headers, follow=follow)

    def _form(self, fields: dict | list | None, files: dict | None) -> tuple[bytes, str]:
        """A form body with the CSRF token of the last page (or the cookie's secret)."""
        items = list(fields.items()) if isinstance(fields, dict) else list(fields or [])
        items.append(("csrfmiddlewaretoken", self.token or self.cookie("csrftoken")))
        if not files:
            return urllib.parse.urlencode(items).encode(), "application/x-www-form-urlencoded"
        boundary = uuid.uuid4().hex
        parts = []
        for name, value in items:
            parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
                         f"{value}\r\n".encode())
        for name, (filename, data) in files.items():
            parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
                         f'filename="{filename}"\r\nContent-Type: application/octet-stream\r\n\r\n'
                         .encode() + data + b"\r\n")
        return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"

    def post(self, path: str, fields: dict | list | None = None, files: dict | None = None,
             follow: bool = False) -> Reply:
        body, ctype = self._form(fields, files)
        return self.request("POST", path, body, {"Content-Type": ctype}, follow=follow)

    def connected_post(self, path: str, fields: dict):
        """A POST whose connection is open already: send() then only writes the request, so
        threads released together race at the server, not at its listen queue."""
        body, ctype = self._form(fields, None)
        host = urllib.parse.urlsplit(self.base)
        conn = http.client.HTTPConnection(host.hostname, host.port, timeout=60)
        conn.connect()
        cookies = "; ".join(f"{c.name}={c.value}" for c in self.jar)
        headers = {"Content-Type": ctype, "Cookie": cookies, "Referer": self.base + "/"}

        def send() -> Reply:
            try:
                conn.request("POST", path, body, headers)
                resp = conn.getresponse()
                return Reply(resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read(), path)
            finally:
                conn.close()

        return send

    def login(self, username: str, password: str = PASSWORD) -> Reply:
        page = self.get(LOGIN)
        assert page.status == 200 and 'name="csrfmiddlewaretoken"' in page.text
        return self.post(LOGIN, {"username": username, "password": password, "next": "/admin/"})

    def logged_in(self, username: str, password: str = PASSWORD) -> Browser:
        reply = self.login(username, password)
        assert (reply.status, reply.headers.get("location")) == (302, "/admin/"), reply.text[-500:]
        return self

    def api(self, method: str, path: str, token: str, raw: bytes | None = None) -> Reply:
        headers = {"Authorization": f"Bearer {token}"}
        if raw is not None:
            headers["Content-Type"] = "application/json"
        return self.request(method, path, raw, headers)


@pytest.fixture
def web(live_server):
    return lambda: Browser(live_server.url)


@pytest.fixture
def ningbo(web):
    caseworker("nb_worker", "330200")
    return web().logged_in("nb_worker")


@pytest.fixture(autouse=True)
def _media_and_eager_workers(settings, tmp_path):
    """Uploads wait in a MEDIA_ROOT of this test; a confirmed import runs on a worker, here
    in the live server's request thread (the same process)."""
    from config.celery import app

    settings.MEDIA_ROOT = str(tmp_path / "media")
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


def upload(browser: Browser, url: str, data: bytes, name: str) -> Reply:
    page = browser.get(url)
    assert page.status == 200
    return browser.post(url, {"format": "0", "resource": "0"}, files={"import_file": (name, data)})


def add_form(id_number: str, name: str, region: str = "330200") -> dict:
    return {"id_number": id_number, "name": name, "region": region, "hukou": "local", "student": "",
            "school": "", "phone": "", "birth_date": "",
            "enrollments-TOTAL_FORMS": "0", "enrollments-INITIAL_FORMS": "0", "_save": "保存"}


def add(browser: Browser, data: dict) -> Reply:
    assert browser.get(ADD).status == 200
    return browser.post(ADD, data)


def threads(count: int, target) -> list:
    """Run target(i, barrier) in count threads at once; their results (an exception fails)."""
    barrier = threading.Barrier(count, timeout=30)
    results, errors = [None] * count, []

    def run(i):
        try:
            results[i] = target(i, barrier)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(repr(exc))

    ts = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(90)
    assert errors == []
    return results


# --- item 1: cross-region takeover by race --------------------------------------------------------


def test_item01_resident_added_in_ningbo_while_a_lvliang_import_confirms_is_not_taken_over(
        web, ningbo, monkeypatch):
    """Lüliang confirms an import (参保年度 2027) whose last row is a new ID in 141100; between
    its check and its write the Ningbo caseworker adds that ID through 增加 (another request,
    another server thread and connection).  The import refuses that row; the person stays
    Ningbo's, with no enrollment, and Ningbo still opens the record."""
    clone("141100", 2026, 2027)
    caseworker("ll_worker", "141100")
    lvliang = web().logged_in("ll_worker")
    contested = make_number("14110219850101123")
    other = make_number("14110219900101123")
    header = ["姓名", "身份证号码", "户籍", "居住证", "学生类别", "参保地", "参保年度"]
    data = csv_bytes([["王五", other, "本地", "无", "", "141100", "2027"],
                      ["张三", contested, "本地", "无", "", "141100", "2027"]], header=header)
    module = sys.modules["enrollment.imports.residents_write"]
    real = module.write_residents
    ningbo_added = []

    def ningbo_adds_it_meanwhile(*args, **kwargs):
        if not ningbo_added:
            ningbo_added.append(add(ningbo, add_form(contested, "宁波人")).status)
        return real(*args, **kwargs)

    monkeypatch.setattr(module, "write_residents", ningbo_adds_it_meanwhile)
    preview = upload(lvliang, IMPORT, data, "roster.csv")
    assert preview.status == 200 and 'name="import_file_name"' in preview.text
    fields = {name: re.search(rf'name="{name}" value="([^"]*)"', preview.text).group(1)
              for name in ("import_file_name", "original_file_name", "format", "resource")}
    done = lvliang.post(PROCESS, fields, follow=True)
    assert done.status == 200
    assert ningbo_added == [302]  # Ningbo's 增加 was saved, mid-import
    held = Resident.objects.get(id_number=contested)
    assert (held.name, held.region_id) == ("宁波人", "330200")
    assert not Enrollment.objects.filter(resident=held).exists()
    assert not Resident.objects.filter(id_number=other).exists()  # the file was refused whole
    run = BatchRun.objects.get()
    assert (run.status, run.summary["rejected"], run.summary["invalid_rows"]) == ("failed", True, 1)
    assert f"第 3 行\u3000身份证号码：{HELD_ELSEWHERE}" in done.text  # the run's page says why
    assert ningbo.get(f"{RESIDENTS}{held.pk}/change/").status == 200
    assert lvliang.get(f"{RESIDENTS}{held.pk}/change/", follow=False).status == 404  # not Lüliang's


# --- item 2: parallel password guessing --------------------------------------------------------------


@pytest.fixture
def checked(monkeypatch):
    """The passwords the live server really checked (it runs in this process)."""
    calls, lock = [], threading.Lock()
    real = ModelBackend.authenticate

    def counting(self, request, username=None, password=None, **kwargs):
        with lock:
            calls.append(password)
        return real(self, request, username=username, password=password, **kwargs)

    monkeypatch.setattr(ModelBackend, "authenticate", counting)
    return calls


def guess_all(web, username: str, passwords: list[str]) -> list[bool]:
    """Every password posted at the same moment, each from its own browser; True = logged in."""
    sends = []
    for password in passwords:
        b = web()
        assert b.get(LOGIN).status == 200
        sends.append(b.connected_post(LOGIN, {"username": username, "password": password, "next": "/admin/"}))

    def attempt(i, barrier):
        barrier.wait()
        reply = sends[i]()
        assert reply.status in (200, 302), reply.status
        return reply.status == 302 and "sessionid=" in reply.headers.get("set-cookie", "")

    return threads(len(passwords), attempt)


def test_item02_parallel_guesses_are_checked_at_most_up_to_the_lock(web, checked):
    """20 wrong passwords at once: all 20 were checked (and recorded), not 5.  Then, for
    another user, 30 at once with the right one among them: it logged in twice."""
    limit = django_settings.LOGIN_MAX_FAILURES
    caseworker("alice", "330200")
    results = guess_all(web, "alice", [f"wrong-{i}" for i in range(20)])
    assert results == [False] * 20
    assert len(checked) == limit  # the rest refused as locked, unchecked
    assert LoginFailure.objects.filter(username="alice").count() == 20  # yet every attempt counted
    locked = web().login("alice")  # the right password, now locked out
    assert (locked.status, locked.headers.get("location")) == (200, None)
    assert len(checked) == limit

    checked.clear()
    caseworker("bob", "330200")
    results = guess_all(web, "bob", [f"wrong-{i}" for i in range(29)] + [PASSWORD])
    assert sum(results) <= 1
    assert len([p for p in checked if p != PASSWORD]) <= (2 * limit if any(results) else limit)


# --- item 3: zip bomb, long cells ---------------------------------------------------------------------


def test_item03_zip_bomb_is_refused_and_long_cells_echoed_cut_in_the_preview(ningbo):
    bomb = xlsx_with_shared_string(8 * 1024 * 1024)  # 8 MB of one letter, ~8 KB packed
    assert len(bomb) < 100_000
    before = counts()
    reply = upload(ningbo, IMPORT, bomb, "bomb.xlsx")
    assert reply.status == 200
    assert "压缩比异常" in reply.text
    assert "A" * 1000 not in reply.text
    assert 'name="import_file_name"' not in reply.text  # nothing to confirm
    assert counts() == before
    # a bad cell of 1,000 characters is echoed cut, in the reason and in the row's cells
    data = csv_bytes([["张三", NINGBO_MAN, "农" * 1000, "无", "", "330200"]])
    before = counts()
    reply = upload(ningbo, IMPORT, data, "a.csv")
    assert reply.status == 200
    assert "第 2 行：应为“本地”或“外地”，收到 &#x27;" + "农" * 50 + "&#x27;…" in reply.text
    assert "农" * 51 not in reply.text
    assert len(reply.body) < 200_000
    assert counts() == before


# --- item 4: admin actions with ids that are not numbers ---------------------------------------------


def test_item04_actions_with_ids_that_are_not_numbers_are_a_message(ningbo):
    day = date(2024, 11, 1)
    resident = person("330203", "19800101", "017", name="张一", today=day)
    register(resident, 2025, day)
    cases = [(RESIDENTS, "delete_selected", {}), (RESIDENTS, "delete_selected", {"post": "yes"}),
             (RESIDENTS, "register_for_year", {"apply": "1", "year": "2025", "registered_via": "community"}),
             (ENROLLMENTS, "cancel_with_reason", {}),
             (ENROLLMENTS, "cancel_with_reason", {"apply": "1", "reason": "x"})]
    for url, action, extra in cases:
        for selected in (["abc"], [""], ["1 OR 1=1"], [str(resident.pk), "abc"]):
            assert ningbo.get(url).status == 200
            fields = [("action", action), *[("_selected_action", s) for s in selected], *extra.items()]
            reply = ningbo.post(url, fields, follow=True)
            assert reply.status == 200, (url, action, selected, reply.status)
            assert "所选记录无效" in reply.text, (url, action, selected)
    assert Resident.objects.count() == 1
    assert Enrollment.objects.get().status == "registered"


# --- items 5, 6, 9 on the API: body cap, array cap, nesting, NUL on the path ----------------------------


def test_items05_06_09_api_body_cap_array_cap_nesting_and_nul_on_the_path(web, staff_token):
    # 5: over API_MAX_BODY_BYTES: 413 with the contract's error object (was 400 text/html)
    cap = getattr(django_settings, "API_MAX_BODY_BYTES", 1024 * 1024)  # (no setting before the fix)
    body = json.dumps({"name": "x" * (cap + 10)}).encode()
    for path in ("/api/v1/quote", "/api/v1/enrollments"):
        assert web().api("POST", path, staff_token, raw=body).error() == (413, "payload_too_large"), path
    # 5: a quote array over API_QUOTE_MAX_ITEMS: 422, saying the limit
    cap = getattr(django_settings, "API_QUOTE_MAX_ITEMS", 1000)
    reply = web().api("POST", "/api/v1/quote", staff_token, raw=json.dumps([{}] * (cap + 1)).encode())
    assert reply.error() == (422, "invalid_input")
    assert str(cap) in reply.json()["error"]["message"]
    # 6: deeply nested JSON: 422 invalid_input (was a RecursionError, 500)
    for path in ("/api/v1/quote", "/api/v1/enrollments"):
        for raw in ("[" * 1_000, '{"a":' * 5_000 + "1" + "}" * 5_000, "[" * 200_000):
            assert web().api("POST", path, staff_token, raw=raw.encode()).error() == (422, "invalid_input")
    # 9: a NUL byte (or another impossible ID) on the path: 422 (was 500)
    for id_number in ("%00", "33020319800101001%00", "%E2%80%8B"):
        reply = web().api("GET", f"/api/v1/enrollments/{id_number}/2026", staff_token)
        assert reply.error() == (422, "invalid_input"), id_number
    assert not Enrollment.objects.exists() and not Resident.objects.exists()


# --- item 7: coverage out of range, or for another region's resident -----------------------------------


def run_manage(*args) -> subprocess.CompletedProcess:
    """manage.py in its own process, on this test's database."""
    db = connection.settings_dict
    auth = f"{db['USER']}:{db['PASSWORD']}" if db.get("PASSWORD") else db["USER"]
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test",
           "DATABASE_URL": f"postgres://{auth}@{db['HOST']}:{db['PORT']}/{db['NAME']}"}
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)


def test_item07_coverage_out_of_range_or_of_another_regions_resident_is_refused(tmp_path, web):
    path = tmp_path / "coverage.csv"
    path.write_bytes(csv_bytes([["李四", NINGBO_WOMAN, "330200", "0000", ""],
                                ["李四", NINGBO_WOMAN, "330200", "9999", ""],
                                ["李四", NINGBO_WOMAN, "330200", "2024", "0001-01-01"],
                                ["李四", NINGBO_WOMAN, "330200", "2025", "9999-12-31"],
                                ["李四", NINGBO_WOMAN, "999999", "2023", ""]], header=COVERAGE_HEADER))
    done = run_manage("import_employee_coverage", str(path))
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    columns = [line.split(":")[:2] for line in done.stderr.splitlines()]
    assert columns == [["row 2", " 参保年度"], ["row 3", " 参保年度"], ["row 4", " 中断日期"],
                       ["row 5", " 中断日期"], ["row 6", " 参保地"]], done.stderr
    assert "未知地区 999999" in done.stderr
    assert json.loads(done.stdout)["rejected"] is True
    assert not EmployeeCoverage.objects.exists()

    # nor may a Lüliang caseworker write coverage for a Ningbo resident (through 导入)
    person("330203", "19900215", "124", name="李四")
    resident = Resident.objects.get()
    caseworker("ll_worker", "141100")
    lvliang = web().logged_in("ll_worker")
    data = csv_bytes([["李四", resident.id_number, "141100", "2025", ""]], header=COVERAGE_HEADER)
    reply = upload(lvliang, COVERAGE_IMPORT, data, "c.csv")
    assert reply.status == 200
    assert HELD_ELSEWHERE in reply.text
    assert 'name="import_file_name"' not in reply.text
    assert not EmployeeCoverage.objects.exists()


# --- item 8: control and format characters in names ----------------------------------------------------


def test_item08_names_with_invisible_characters_are_refused_by_import_and_form(ningbo):
    names = ["张\x07三", "\x1b[31m张三", "张\u200b三", "张三\u200f", "\u202e张三"]
    ids = [number("330203", "19800101", f"{i * 2 + 11:03d}") for i in range(len(names))]
    before = counts()
    reply = upload(ningbo, IMPORT, csv_bytes([[n, i, "本地", "无", "", "330200"] for n, i in zip(names, ids)]),
                   "a.csv")
    assert reply.status == 200
    assert reply.text.count("含有不可见或控制字符") == len(names)
    assert 'name="import_file_name"' not in reply.text
    for n, i in zip(names, ids):
        # a form error on the 姓名 field: the page comes back with what was typed
        reply = add(ningbo, add_form(i, n))
        assert reply.status == 200, (n, reply.status)
        assert "姓名含有不可见或控制字符，请删除后重新输入" in reply.text
        assert i in reply.text  # the ID number typed is still in the form
    assert counts() == before
    export = export_residents(ningbo, "xlsx")  # and the region's export still works
    assert export.status == 200


# --- item 9: a NUL byte in a CSV ------------------------------------------------------------------------


def test_item09_nul_byte_in_an_uploaded_csv_is_a_clean_error(ningbo):
    before = counts()
    reply = upload(ningbo, IMPORT, csv_bytes([["张\x00三", NINGBO_WOMAN, "本地", "无", "", "330200"]]), "a.csv")
    assert reply.status == 200
    assert "空字符" in reply.text
    assert 'name="import_file_name"' not in reply.text
    assert counts() == before


# --- item 10: the add form normalises the ID number -----------------------------------------------------


def full_width(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if c.isdigit() else c for c in text)


def x_numbers(count: int) -> list[str]:
    found = [n for n in (number("330203", "19850607", f"{s:03d}") for s in range(100, 999)) if n.endswith("X")]
    assert len(found) >= count
    return found[:count]


def test_item10_the_add_form_normalises_as_imports_do(ningbo):
    spellings = [str.lower, full_width, lambda n: f"{n[:6]} {n[6:14]} {n[14:]}",
                 lambda n: f"{n[:6]}-{n[6:14]}-{n[14:]}", lambda n: f"  {full_width(n[:10])}{n[10:].lower()}  "]
    numbers = x_numbers(len(spellings))
    for i, (spell, n) in enumerate(zip(spellings, numbers)):
        reply = add(ningbo, add_form(spell(n), f"规范{i}"))
        assert reply.status == 302, re.findall(r'class="errorlist[^>]*>(.*?)</ul>', reply.text, re.S)
    assert sorted(Resident.objects.values_list("id_number", flat=True)) == sorted(numbers)
    again = add(ningbo, add_form(numbers[0].lower(), "第二"))
    assert again.status == 200 and "已登记" in again.text and "constraint" not in again.text
    assert Resident.objects.count() == len(numbers)


# --- item 11: only ASCII digits -------------------------------------------------------------------------


def test_item11_arabic_indic_digits_are_refused_on_every_path(ningbo, staff_token, web):
    foreign = "".join(ARABIC_INDIC[int(c)] for c in NINGBO_WOMAN[:17]) + NINGBO_WOMAN[17]
    before = counts()
    reply = upload(ningbo, IMPORT, csv_bytes([["李四", foreign, "本地", "无", "", "330200"]]), "a.csv")
    assert reply.status == 200
    assert "第 2 行：身份证号码" in reply.text and 'name="import_file_name"' not in reply.text
    reply = add(ningbo, add_form(foreign, "李四"))
    assert reply.status == 200 and "身份证号码" in reply.text
    assert "Traceback" not in reply.text and "IntegrityError" not in reply.text
    assert counts() == before
    api = web().api("GET", f"/api/v1/enrollments/{urllib.parse.quote(foreign)}/2026", staff_token)
    assert api.error() == (422, "invalid_input")
    assert not Resident.objects.exists()


# --- item 12: exports neutralise formulas ----------------------------------------------------------------

NASTY = ['=HYPERLINK("http://x","y")', "+1+1", "-2+3", "@SUM(A1)"]


def export_residents(browser: Browser, fmt: str) -> Reply:
    page = browser.get(f"{RESIDENTS}export/")
    assert page.status == 200
    select = re.search(r'<select name="format"[^>]*>(.*?)</select>', page.text, re.S).group(1)
    choice = next(value for value, label in re.findall(r'<option value="([^"]*)"[^>]*>([^<]*)</option>', select)
                  if label.strip().lower() == fmt)
    boxes = set(re.findall(r'name="(residentexportresource_[^"]+)"', page.text))
    return browser.post(f"{RESIDENTS}export/", {"format": choice, "resource": "0", **{b: "on" for b in boxes}})


def test_item12_exports_never_carry_a_live_formula(ningbo):
    people = [person("330203", "19800101", f"{i * 2 + 11:03d}", name=f"张{i}") for i in range(len(NASTY))]
    for p, name in zip(people, NASTY):
        Resident.objects.filter(pk=p.pk).update(name=name)  # as an older import could have stored it
    reply = export_residents(ningbo, "csv")
    assert reply.status == 200 and reply.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(reply.body.decode("utf-8-sig"))))
    assert {row[0] for row in rows[1:]} == {"'" + n for n in NASTY}
    reply = export_residents(ningbo, "xlsx")
    assert reply.status == 200
    sheet = openpyxl.load_workbook(io.BytesIO(reply.body)).active
    cells = [c for row in sheet.iter_rows(min_row=2) for c in row]
    assert cells and all(c.data_type != "f" for c in cells)
    assert {row[0].value for row in sheet.iter_rows(min_row=2)} == {"'" + n for n in NASTY}


# --- item 13: list filters with values that are not theirs -------------------------------------------------


def test_item13_lists_with_bad_filter_values_are_not_a_500(ningbo):
    day = date(2024, 11, 1)
    register(person("330203", "19800101", "017", name="张一", today=day), 2025, day)
    for query in ("year=abc", "year=1%20OR%201%3D1", "year=99999999999999999999", "year=%D9%A1%D9%A2",
                  "paid=abc", "region=abc", "region=" + "9" * 40):
        assert ningbo.get(f"{ENROLLMENTS}?{query}").status == 200, query
    for query in ("region=abc", "region=" + "9" * 40):
        assert ningbo.get(f"{RESIDENTS}?{query}").status == 200, query
    assert Enrollment.objects.count() == 1


# --- item 14: eight concurrent 增加 of one ID ---------------------------------------------------------------


def test_item14_eight_concurrent_adds_save_one_and_refuse_seven_as_form_errors(web):
    caseworker("nb_worker", "330200")
    n = number("330203", "19850607", "013")
    sends = []
    for i in range(8):
        b = web().logged_in("nb_worker")
        assert b.get(ADD).status == 200
        sends.append(b.connected_post(ADD, add_form(n if i % 2 else n.lower(), f"并发{i}")))

    def post(i, barrier):
        barrier.wait()
        reply = sends[i]()
        return reply.status, "已登记" in reply.text

    outcomes = threads(8, post)
    assert sorted(status for status, _ in outcomes) == [200] * 7 + [302], outcomes
    assert all(said for status, said in outcomes if status == 200)
    assert Resident.objects.filter(id_number=n).count() == 1
