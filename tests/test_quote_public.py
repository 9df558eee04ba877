"""Every worked example of ../shared/scenarios/quote_public.json, through every way in.

The examples run after load_policies and the clones the file lists (see
conftest.py); each expected field must match exactly.
"""

import json
from io import StringIO

import pytest
from django.core.management import call_command

from conftest import load_scenarios

CASES = load_scenarios()["cases"]


def _check(case, answer):
    expected = case["expected"]
    if "error" in expected:
        assert "error" in answer, answer
        assert answer["error"]["code"] == expected["error"]
        assert answer["error"]["message"]
    else:
        assert "error" not in answer, answer
        for field, value in expected.items():
            assert answer[field] == value, (field, answer)


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_public_case_via_command(case, policies):
    out = StringIO()
    with pytest.raises(SystemExit) if "error" in case["expected"] else _nothing():
        call_command("quote", text=json.dumps(case["request"]), stdout=out)
    _check(case, json.loads(out.getvalue()))


def test_all_public_cases_as_one_array(policies):
    out = StringIO()
    call_command("quote", text=json.dumps([c["request"] for c in CASES]), stdout=out)
    answers = json.loads(out.getvalue())
    assert len(answers) == len(CASES)
    for case, answer in zip(CASES, answers):
        _check(case, answer)


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_public_case_via_api(case, policies, staff_token, client):
    resp = client.post("/api/v1/quote", data=json.dumps(case["request"]),
                       content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {staff_token}")
    answer = resp.json()
    _check(case, answer)
    if "error" in case["expected"]:
        assert resp.status_code == (404 if case["expected"]["error"] == "policy_missing" else 422)
    else:
        assert resp.status_code == 200


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False
