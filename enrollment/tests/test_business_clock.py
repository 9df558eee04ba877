"""Registration times follow the business date (core.clock), not the machine's calendar: the
family pool's cancellation deadline for a community-registered child is the day of
registration, and the checks run on fixed business dates (BUSINESS_DATE)."""

import json
from datetime import date
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from enrollment.models import Enrollment
from enrollment.renewal import renew_enrollments

from .support import clone, person, register_and_pay

pytestmark = pytest.mark.usefixtures("policies")
SH = ZoneInfo("Asia/Shanghai")
NINGBO_DAY = date(2024, 11, 1)


def test_api_registration_is_stamped_on_the_business_date(client, staff_token, settings):
    settings.BUSINESS_DATE = NINGBO_DAY
    zhang = person("330203", "19800101", "017", name="张三", today=NINGBO_DAY)
    resp = client.post("/api/v1/enrollments", data=json.dumps({
        "id_number": zhang.id_number, "name": "张三", "region": "330200", "year": 2025,
        "registered_via": "community"}), content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {staff_token}")
    assert resp.status_code == 201
    e = Enrollment.objects.get(resident=zhang, year=2025)
    assert timezone.localtime(e.registered_at, SH).date() == NINGBO_DAY
    assert timezone.localdate() != NINGBO_DAY  # the machine's calendar is elsewhere: the test can fail


def test_renewal_is_stamped_on_the_business_date(settings):
    li = person("141102", "19700101", "031", name="李四", today=date(2025, 11, 1))
    register_and_pay(li, 2026, date(2025, 11, 1), date(2025, 11, 2), "400.00")
    settings.BUSINESS_DATE = date(2026, 10, 25)
    clone("141100", 2026, 2027)
    renew_enrollments(region="141100", to_year=2027, today=date(2026, 10, 25))
    e = Enrollment.objects.get(resident=li, year=2027)
    assert timezone.localtime(e.registered_at, SH).date() == date(2026, 10, 25)
