"""The December batch (共济缴费批量划扣) timed in one process (``run_pool_batch``'s inline path).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_pool .venv/bin/python bench/pool_batch.py --members 10000

Builds ``--members`` Shanghai children (355.00 each, registered for 2025) in networks of
2–3 (members / 2.5 networks; organizers with 2,000.00), premium mode on before the cut-off,
then runs the batch and prints members per second and peak RSS.  The database (its name
must contain "bench") is dropped and created.  Not yet here (issue 11's full target): the
1,000,000-member build by COPY, the two-worker run, the per-member ORM loop for the ratio,
and the 20 kill-and-resume runs — see bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SH = ZoneInfo("Asia/Shanghai")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--members", type=int, default=10000)
    ap.add_argument("--chunk-size", type=int, default=500)
    args = ap.parse_args()
    url = os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bench_pool")
    name = url.rsplit("/", 1)[1]
    assert "bench" in name, "the bench database's name must contain 'bench'"
    base = url.rsplit("/", 1)[0]
    subprocess.run(["psql", f"{base}/postgres", "-qc", f"DROP DATABASE IF EXISTS {name}"], check=True)
    subprocess.run(["psql", f"{base}/postgres", "-qc", f"CREATE DATABASE {name}"], check=True)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("load_policies", verbosity=0)
    t0 = time.monotonic()
    build(args.members)
    print(f"built {args.members} members in {time.monotonic() - t0:.1f} s", flush=True)
    from family_pool.batch import run_pool_batch

    t0 = time.monotonic()
    summary = run_pool_batch(region="310000", year=2025, at=datetime(2024, 12, 22, 10, tzinfo=SH),
                             actor="bench", chunk_size=args.chunk_size)
    took = time.monotonic() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(summary)
    print(f"batch: {args.members} members in {took:.1f} s = {args.members / took:.0f} members/s; peak RSS {peak:.0f} MB")


def build(n: int) -> None:
    from enrollment.idnumbers import make_number
    from enrollment.models import Enrollment, Resident
    from family_pool.models import AccountEntry, EmployeeAccount, ModeChange, Network, Participation

    nets = int(n / 2.5)
    accounts = EmployeeAccount.objects.bulk_create(
        EmployeeAccount(id_number=make_number(f"31010119800101{i:03d}"[:14] + f"{i % 1000:03d}")
                        if False else make_number(f"310101{1950 + i // 300000}{(i // 1000) % 12 + 1:02d}"
                                                  f"{(i // 12000) % 28 + 1:02d}{i % 1000:03d}"),
                        name="组建人", insured_region="310000", historical_balance=Decimal("2000.00"),
                        current_balance=0) for i in range(nets))
    AccountEntry.objects.bulk_create(AccountEntry(account=a, bucket="historical", kind="import",
                                                  amount=Decimal("2000.00")) for a in accounts)
    created = datetime(2024, 11, 1, tzinfo=SH)
    networks = Network.objects.bulk_create(
        Network(organizer_id_number=a.id_number, organizer_name="组建人", account=a, region_id="310000",
                premium_mode=True, created_at=created) for a in accounts)
    ModeChange.objects.bulk_create(ModeChange(network=net, medical_mode=False, premium_mode=True,
                                              changed_at=created) for net in networks)
    residents = Resident.objects.bulk_create(
        Resident(id_number=make_number(f"310101{2010 + i // 400000}{(i // 1000) % 12 + 1:02d}"
                                       f"{(i // 12000) % 28 + 1:02d}{i % 1000:03d}"),
                 name="孩子", birth_date=date(2010 + i // 400000, (i // 1000) % 12 + 1, (i // 12000) % 28 + 1),
                 sex="M" if i % 2 else "F", region_id="310000", student="primary_secondary")
        for i in range(n))
    Enrollment.objects.bulk_create(
        Enrollment(resident=r, year=2025, region_id="310000", category="student", registered_via="school",
                   personal_standard=Decimal("355.00"), amount_due=Decimal("355.00"), timing="window")
        for r in residents)
    Participation.objects.bulk_create(
        Participation(network=networks[i % nets], id_number=r.id_number, name=r.name, role="member",
                      relation="child", registered_via="school", joined_at=created)
        for i, r in enumerate(residents))


if __name__ == "__main__":
    main()
