"""manage.py quote / load_policies / clone_policy_year / create_api_token (INTERFACES.md §2, §3, §5).

Writes go through call_command (inside the test's transaction, rolled back);
exit statuses of the real process are checked with a subprocess against the
test database, only on paths that write nothing.
"""

import io
import json
import os
import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connection

from accounts.models import ApiToken, hash_token
from accounts.services import api_token_authenticate
from policy.models import Category, PolicyYear

ROOT = Path(settings.BASE_DIR)
CJK = re.compile(r"[\u4e00-\u9fff]")

DIBAO = {"region": "141100", "year": 2026, "paid_on": "2026-01-10",
         "person": {"birth_date": "1980-05-01", "hukou": "local", "residence_permit": False,
                    "student": None, "employee_insured": False, "parent_insured_locally": False},
         "identities": [{"code": "dibao", "certified_on": "2025-06-01"}],
         "history": {"2025": "resident"}, "repaired_years": [], "left_other_scheme_on": None}
DIBAO_RESULT = {
    "region": "141100", "year": 2026, "category": "resident", "personal_standard": "400.00",
    "fiscal_subsidy": None, "assistance": {"identity": "dibao", "amount": "320.00"},
    "amount_due": "80.00", "timing": "window", "benefit_start": "2026-01-10",
    "benefit_end": "2026-12-31", "waiting_months": 0, "waiting_days": 0, "cap_adjustment": None}
DAY_26 = {**DIBAO, "paid_on": "2026-01-26"}
DAY_26_ERROR = {"error": {"code": "payment_day_not_allowed",
                          "message": "吕梁市仅在每月 1 日至 25 日办理缴费，2026-01-26 不可缴费"}}
NINGBO_ADULT = {"region": "330200", "year": 2025, "paid_on": "2024-11-01",
                "person": {"birth_date": "1980-05-01"}}


def run_quote(**options):
    """call_command('quote') -> (exit status, decoded stdout)."""
    out = io.StringIO()
    try:
        call_command("quote", stdout=out, **options)
        status = 0
    except SystemExit as exc:
        status = exc.code
    return status, json.loads(out.getvalue())


# --- quote via call_command ------------------------------------------------------------------


def test_quote_single_success_exits_0(policies):
    status, answer = run_quote(text=json.dumps(DIBAO))
    assert status == 0
    assert answer == DIBAO_RESULT


def test_quote_single_failure_exits_1(policies):
    status, answer = run_quote(text=json.dumps(DAY_26))
    assert status == 1
    assert answer == DAY_26_ERROR


def test_quote_policy_missing_exits_1(policies):
    status, answer = run_quote(text=json.dumps({**DIBAO, "year": 2031}))
    assert status == 1
    assert answer == {"error": {"code": "policy_missing", "message": "吕梁市 2031 年度没有已发布的政策"}}


def test_quote_array_with_errors_exits_0_and_keeps_order(policies):
    payload = [DIBAO, DAY_26, {"region": "141100"}, NINGBO_ADULT]
    status, answers = run_quote(text=json.dumps(payload))
    assert status == 0
    assert len(answers) == 4
    assert answers[0] == DIBAO_RESULT
    assert answers[1] == DAY_26_ERROR
    assert answers[2]["error"]["code"] == "invalid_input"
    assert answers[2]["error"]["message"].startswith("year: ")
    assert (answers[3]["category"], answers[3]["amount_due"], answers[3]["fiscal_subsidy"]) == (
        "adult", "780.00", "2090.00")


def test_quote_empty_array(policies):
    assert run_quote(text="[]") == (0, [])


@pytest.mark.parametrize("text", ["{", "", "not json", '{"region": "141100",}'])
def test_quote_malformed_json_exits_2(policies, text):
    status, answer = run_quote(text=text)
    assert status == 2
    assert answer["error"]["code"] == "invalid_input"
    assert answer["error"]["message"].startswith("无法解析的 JSON (malformed JSON)")


@pytest.mark.parametrize("payload, field", [
    ({**DIBAO, "paid_on": "2026-02-30"}, "paid_on"),
    ({**DIBAO, "person": {}}, "person.birth_date"),
    ({**DIBAO, "identities": [{"code": "nobody"}]}, "identities[0].code"),
    ({**DIBAO, "colour": "red"}, "colour"),
    ("141100", None),
    ({**DIBAO, "left_other_scheme_on": "9999-12-31"}, "left_other_scheme_on"),
])
def test_quote_invalid_request_exits_1(policies, payload, field):
    status, answer = run_quote(text=json.dumps(payload))
    assert status == 1
    assert answer["error"]["code"] == "invalid_input"
    if field:
        assert answer["error"]["message"].startswith(f"{field}: ")


def test_quote_reads_standard_input(policies, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO(json.dumps([DIBAO, DAY_26])))
    status, answers = run_quote()
    assert status == 0
    assert answers == [DIBAO_RESULT, DAY_26_ERROR]


def test_quote_explain_adds_chinese_steps(policies):
    status, answer = run_quote(text=json.dumps(DIBAO), explain=True)
    assert status == 0
    steps = answer.pop("explanation")
    assert answer == DIBAO_RESULT
    assert len(steps) >= 5
    assert all(CJK.search(step) for step in steps)
    assert "适用政策：吕梁市 2026 年度（待遇期 2026-01-01 至 2026-12-31）" in steps
    assert "应缴金额 = 400.00 − 320.00 = 80.00 元" in steps


def test_quote_without_explain_has_no_steps(policies):
    _, answer = run_quote(text=json.dumps([DIBAO]))
    assert "explanation" not in answer[0]


# --- load_policies / clone_policy_year via call_command --------------------------------------


def test_load_policies_command_prints_summary(policies):
    out, err = io.StringIO(), io.StringIO()
    call_command("load_policies", stdout=out, stderr=err)
    assert json.loads(out.getvalue()) == {
        "regions_created": 0, "regions_updated": 0, "created": [], "updated": [],
        "unchanged": ["141100-2026", "310000-2025", "330200-2025", "610400-2025", "630100-2025"],
        "differs_not_changed": []}
    assert err.getvalue() == ""


def test_load_policies_command_reports_a_differing_year(policies):
    Category.objects.filter(policy_year__region_id="141100", code="resident").update(
        personal_standard=Decimal("410.00"))
    out, err = io.StringIO(), io.StringIO()
    call_command("load_policies", stdout=out, stderr=err)
    assert json.loads(out.getvalue())["differs_not_changed"] == ["141100-2026"]
    assert err.getvalue().strip() == (
        "differs from its file (left as it is; --force rewrites): 141100-2026")
    assert Category.objects.get(policy_year__region_id="141100", code="resident").personal_standard == Decimal("410.00")

    out = io.StringIO()
    call_command("load_policies", force=True, stdout=out, stderr=io.StringIO())
    assert json.loads(out.getvalue())["updated"] == ["141100-2026"]
    assert Category.objects.get(policy_year__region_id="141100", code="resident").personal_standard == Decimal("400.00")


def test_load_policies_command_rejects_a_bad_dir(policies, tmp_path):
    (tmp_path / "regions.yaml").write_text((ROOT / "policies" / "regions.yaml").read_text("utf-8"), "utf-8")
    (tmp_path / "330200-2025.yaml").write_text("region: \"330200\"\nyear: 2025\nsurprise: 1\n", "utf-8")
    before = PolicyYear.objects.count()
    with pytest.raises(CommandError) as err:
        call_command("load_policies", dir=tmp_path, stdout=io.StringIO())
    assert str(err.value) == ("policy file rejected, nothing loaded: "
                              "330200-2025.yaml: unknown key 'surprise'")
    assert PolicyYear.objects.count() == before


def test_clone_command_output_and_audit_actor(policies):
    out = io.StringIO()
    call_command("clone_policy_year", region="141100", from_year=2026, to_year=2027, stdout=out)
    assert out.getvalue() == "141100 2027: created, draft\n"
    py = PolicyYear.objects.get(region_id="141100", year=2027)
    assert py.status == "draft"
    event = apps.get_model("policy", "PolicyYearEvent").objects.get(pgh_obj_id=py.pk, pgh_label="insert")
    assert event.pgh_context.metadata == {"actor": "manage.py clone_policy_year",
                                          "action": "clone_policy_year"}

    out = io.StringIO()
    call_command("clone_policy_year", "--region", "141100", "--from-year", "2026", "--to-year", "2027",
                 stdout=out)
    assert out.getvalue() == "141100 2027: already present, draft\n"

    out = io.StringIO()
    call_command("clone_policy_year", "--region", "141100", "--from-year", "2026", "--to-year", "2027",
                 "--publish", stdout=out)
    assert out.getvalue() == "141100 2027: already present, published\n"
    assert PolicyYear.objects.get(region_id="141100", year=2027).status == "published"


def test_clone_command_publish_creates_published(policies):
    out = io.StringIO()
    call_command("clone_policy_year", region="630100", from_year=2025, to_year=2026, publish=True,
                 stdout=out)
    assert out.getvalue() == "630100 2026: created, published\n"
    status, answer = run_quote(text=json.dumps({"region": "630100", "year": 2026, "paid_on": "2025-10-01",
                                                "person": {"birth_date": "1980-01-01"},
                                                "history": {"2025": "resident"}}))
    assert (status, answer["amount_due"], answer["benefit_start"]) == (0, "400.00", "2026-01-01")


def test_clone_command_refusal_is_a_command_error(policies):
    call_command("clone_policy_year", region="630100", from_year=2025, to_year=2026, stdout=io.StringIO())
    PolicyYear.objects.filter(region_id="630100", year=2026).update(notes="edited by a caseworker")
    with pytest.raises(CommandError) as err:
        call_command("clone_policy_year", region="630100", from_year=2025, to_year=2026,
                     stdout=io.StringIO())
    assert str(err.value) == ("地区 630100 已有 2026 年度的政策且内容不同；"
                              "请在后台编辑该年度，或删除草稿后重新复制")
    assert PolicyYear.objects.get(region_id="630100", year=2026).notes == "edited by a caseworker"


# --- create_api_token ------------------------------------------------------------------------


def test_create_api_token_prints_a_token_that_authenticates(policies, client):
    out = io.StringIO()
    call_command("create_api_token", "工行缴费渠道", scope="channel", stdout=out)
    raw = out.getvalue().strip()
    assert len(raw) >= 40 and "\n" not in raw

    row = ApiToken.objects.get(name="工行缴费渠道")
    assert (row.scope, row.prefix, row.token_hash, row.revoked_at) == ("channel", raw[:8], hash_token(raw), None)
    assert api_token_authenticate(raw) == row

    resp = client.post("/api/v1/quote", data=json.dumps(DIBAO), content_type="application/json",
                       HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert resp.status_code == 200
    assert resp.json()["amount_due"] == "80.00"
    row.refresh_from_db()
    assert row.last_used_at is not None


def test_create_api_token_refuses_a_duplicate_name(db):
    call_command("create_api_token", "app", scope="pool", stdout=io.StringIO())
    with pytest.raises(CommandError) as err:
        call_command("create_api_token", "app", scope="staff", stdout=io.StringIO())
    assert str(err.value) == "已存在名为“app”的有效令牌"
    assert list(ApiToken.objects.values_list("name", "scope")) == [("app", "pool")]


@pytest.mark.parametrize("args, message", [
    (["  ", "--scope", "staff"], "令牌名称不能为空"),
    (["x", "--scope", "admin"], "invalid choice: 'admin'"),
])
def test_create_api_token_bad_arguments(db, args, message):
    with pytest.raises(CommandError, match=re.escape(message)):
        call_command("create_api_token", *args, stdout=io.StringIO())
    assert ApiToken.objects.count() == 0


# --- the real process: exit statuses ---------------------------------------------------------


@pytest.fixture
def manage(policies):
    """Run manage.py in a subprocess against the test database (read-only uses only)."""
    s = connection.settings_dict
    auth = s["USER"] + (f":{s['PASSWORD']}" if s["PASSWORD"] else "")
    env = {**os.environ,
           "DATABASE_URL": f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}",
           "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
           "DJANGO_SETTINGS_MODULE": "config.settings.test"}

    def run(*commands):
        """Run (args, stdin) pairs side by side; return their CompletedProcess-like results."""
        procs = [(subprocess.Popen([sys.executable, "manage.py", *args], stdin=subprocess.PIPE,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
                                   env=env), stdin) for args, stdin in commands]
        results = []
        for proc, stdin in procs:
            out, err = proc.communicate(stdin, timeout=60)
            results.append(subprocess.CompletedProcess(proc.args, proc.returncode, out, err))
        return results

    return run


def test_quote_process_exit_statuses(manage):
    ok, failed, array, broken = manage(
        (["quote"], json.dumps(DIBAO)),
        (["quote"], json.dumps(DAY_26)),
        (["quote", "--json", json.dumps([DAY_26, DIBAO])], ""),
        (["quote"], "{oops"),
    )
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout) == DIBAO_RESULT

    assert failed.returncode == 1
    assert json.loads(failed.stdout) == DAY_26_ERROR

    assert array.returncode == 0
    assert json.loads(array.stdout) == [DAY_26_ERROR, DIBAO_RESULT]

    assert broken.returncode == 2
    assert json.loads(broken.stdout)["error"]["code"] == "invalid_input"


def test_load_and_clone_process_errors_exit_1(manage, tmp_path):
    (tmp_path / "regions.yaml").write_text("regions: []\n", "utf-8")
    (tmp_path / "141100-2026.yaml").write_text(
        (ROOT / "policies" / "141100-2026.yaml").read_text("utf-8").replace(
            'personal_standard: "400.00"', "personal_standard: 400.0"), "utf-8")
    load, clone = manage(
        (["load_policies", "--dir", str(tmp_path)], ""),
        (["clone_policy_year", "--region", "141100", "--from-year", "2020", "--to-year", "2027"], ""))
    assert load.returncode == 1
    assert load.stdout == ""
    assert ("CommandError: policy file rejected, nothing loaded: 141100-2026.yaml: categories[0]: "
            "personal_standard: write money as a quoted string") in load.stderr

    assert clone.returncode == 1
    assert "CommandError: 地区 141100 没有 2020 年度的政策" in clone.stderr
    assert not PolicyYear.objects.filter(region_id="141100", year=2027).exists()
