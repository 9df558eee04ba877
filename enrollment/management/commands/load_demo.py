"""Demo users and residents for a newcomer's machine (idempotent)."""

import os
import random
from datetime import date

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from core.audit import audit_context
from accounts.roles import AUDITOR, CASEWORKER, POLICY_ADMIN
from enrollment.idnumbers import make_number
from enrollment.models import Resident

# (username, role, regions, description)
USERS = [
    ("admin", None, [], "运维超级用户（日常经办不需要）"),
    ("nb_caseworker", CASEWORKER, ["330200"], "宁波市经办人员"),
    ("xn_caseworker", CASEWORKER, ["630100"], "西宁市经办人员"),
    ("xy_caseworker", CASEWORKER, ["610400"], "咸阳市经办人员"),
    ("ll_caseworker", CASEWORKER, ["141100", "141181"], "吕梁市、孝义市经办人员"),
    ("sh_caseworker", CASEWORKER, ["310000"], "上海市经办人员"),
    ("policy_admin", POLICY_ADMIN, [], "政策管理员：编辑并发布政策年度"),
    ("auditor", AUDITOR, [], "审计人员：只读，含审计记录"),
]

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = ["伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛",
         "明", "超", "秀英", "华", "慧", "建国", "子涵", "梓萱", "浩然", "一诺"]
# (area code used in ID numbers, region)
AREAS = [("330203", "330200"), ("630102", "630100"), ("610402", "610400"),
         ("141102", "141100"), ("141181", "141181"), ("310104", "310000")]
BIRTHS = [date(1952, 3, 8), date(1961, 11, 2), date(1975, 6, 30), date(1980, 5, 1),
          date(1990, 1, 15), date(2004, 7, 1), date(2008, 9, 9), date(2012, 1, 1),
          date(2015, 9, 1), date(2020, 3, 1), date(2023, 8, 18), date(2025, 2, 14)]


class Command(BaseCommand):
    help = "Create demo users (one per role and region) and demo residents; safe to run again."

    def handle(self, *args, **options):
        password = os.environ.get("DEMO_PASSWORD", "demo-2026")
        with transaction.atomic(), audit_context("manage.py load_demo"):
            self._users(password)
            created = self._residents()
            self._identities()
            enrolled = self._enrollments()
        self.stdout.write(self.style.SUCCESS(
            f"demo residents created: {created}; enrollments created: {enrolled}"))
        self.stdout.write("\n演示账号（密码均为 %s）：" % password)
        for username, _, regions, text in USERS:
            where = "、".join(regions) if regions else "—"
            self.stdout.write(f"  {username:<15} {text}  地区：{where}")

    def _users(self, password):
        User = get_user_model()
        for username, role, regions, text in USERS:
            user, made = User.objects.get_or_create(username=username, defaults={"is_staff": True})
            if made:
                user.set_password(password)
                user.first_name = text[:150]
                user.is_superuser = role is None
                user.save()
            if role:
                user.groups.add(Group.objects.get(name=role))
            self._grant_regions(user, regions)

    def _grant_regions(self, user, regions):
        """Region scoping of caseworkers (accounts.StaffRegion) when the model exists."""
        try:
            from accounts.models import StaffRegion
        except ImportError:
            return
        for code in regions:
            StaffRegion.objects.get_or_create(user=user, region_id=code)

    def _identities(self):
        """Lüliang's civil affairs and rural revitalisation rosters, imported as a department's
        file would be (subsidies.roster), certified before the window opened."""
        import csv
        import io

        from subsidies.roster import import_roster

        people = list(Resident.objects.filter(region__in=["141100", "141181"]).order_by("id")[:4])
        lists = {"吕梁市民政局": ["低保对象", "特困人员"], "吕梁市乡村振兴发展中心": ["监测对象", "返贫致贫人口"]}
        for i, (department, identities) in enumerate(lists.items()):
            out = io.StringIO()
            writer = csv.writer(out)
            writer.writerow(["姓名", "身份证号码", "困难类别", "认定部门", "认定日期"])
            for resident, identity in zip(people[2 * i:2 * i + 2], identities):
                writer.writerow([resident.name, resident.id_number, identity, department, "2025-06-01"])
            result = import_roster(out.getvalue().encode(), f"演示名单-{department}.csv", region="141100",
                                   year=2026, actor="load_demo", today=date(2025, 10, 1))
            if result.errors:
                raise CommandError("; ".join(str(e) for e in result.errors))

    def _enrollments(self) -> int:
        """Each region's published year: most registered in the window, two of three paid."""
        from policy.models import PolicyYear
        from policy.selectors import published_spec

        from enrollment.models import Enrollment
        from enrollment.services import EnrollmentError, enrollment_record_payment, enrollment_register

        made = 0
        for py in PolicyYear.objects.filter(status="published").select_related("region"):
            spec = published_spec(py.region_id, py.year)
            window = next((p for p in spec.periods if p.kind == "window"), None)
            day = (window.starts_on or window.ends_on) if window else None
            if day is None:
                continue
            codes = [py.region_id] + list(py.region.counties.values_list("code", flat=True))
            for i, resident in enumerate(Resident.objects.filter(region__in=codes).order_by("id")):
                if i % 5 == 4 or Enrollment.objects.filter(resident=resident, year=py.year).exists():
                    continue
                try:
                    e = enrollment_register(resident=resident, year=py.year, actor="load_demo",
                                            registered_via="school" if resident.student else "community",
                                            today=day)
                    made += 1
                    if i % 3 != 2 and e.status == "registered":
                        enrollment_record_payment(enrollment=e, amount=e.amount_due, paid_on=day,
                                                  paid_via="assistance" if not e.amount_due else "channel",
                                                  actor="load_demo")
                except EnrollmentError:
                    continue  # e.g. a figure the source does not give (Shanghai adults)
        return made

    def _residents(self) -> int:
        rng = random.Random(2026)
        created = 0
        for area, region in AREAS:
            for i, birth in enumerate(BIRTHS):
                seq = f"{(i * 7 + 11) % 1000:03d}"
                number = make_number(f"{area}{birth:%Y%m%d}{seq}")
                if Resident.objects.filter(id_number=number).exists():
                    continue
                student = ""
                if 2006 <= birth.year <= 2018:
                    student = "primary_secondary"
                elif 2003 <= birth.year <= 2005:
                    student = "college"
                nonlocal_ = i == 4
                Resident.objects.create(
                    id_number=number, name=rng.choice(SURNAMES) + rng.choice(GIVEN),
                    birth_date=birth, sex="M" if int(seq[-1]) % 2 else "F", region_id=region,
                    hukou="nonlocal" if nonlocal_ else "local", residence_permit=nonlocal_,
                    student=student, phone=f"139{rng.randrange(10**8):08d}")
                created += 1
        return created
