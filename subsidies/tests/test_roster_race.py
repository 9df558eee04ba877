"""A registration priced while a roster import of the same policy region and year is being
written waits for it and sees the new identity (threads, real transactions)."""

from __future__ import annotations

import threading
import time
from datetime import date
from decimal import Decimal

import pytest
from django.db import connection, transaction

from enrollment.tests.support import person, register
from subsidies.models import AssistanceIdentity
from subsidies.selectors import lock_identities

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("policies")]
NOV = date(2025, 11, 10)


def test_a_registration_waits_for_a_roster_import_in_flight_and_is_priced_with_its_identity():
    li = person("141181", "19800501", name="李四")  # Xiaoyi: Lüliang's policy
    roster_holds = threading.Event()
    done = {}

    def roster_import():
        try:
            with transaction.atomic():
                lock_identities("141100", 2026)
                roster_holds.set()
                time.sleep(1.0)  # the roster's write takes a while
                AssistanceIdentity.objects.create(id_number=li.id_number, name="李四", region_id="141100",
                                                  year=2026, identity="dibao", department="civil_affairs",
                                                  certified_on=date(2025, 6, 1))
                done["roster_committed_at"] = time.monotonic()
        finally:
            connection.close()

    def registration():
        try:
            roster_holds.wait(5)
            e = register(li, 2026, NOV)
            done["registered_at"] = time.monotonic()
            done["due"] = e.amount_due
        finally:
            connection.close()

    threads = [threading.Thread(target=roster_import), threading.Thread(target=registration)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert done["registered_at"] >= done["roster_committed_at"]
    assert done["due"] == Decimal("80.00")
