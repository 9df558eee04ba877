"""Enrollment's batch jobs on the core engine (registered when the app is ready)."""

from __future__ import annotations

from datetime import date

from core import clock
from core.batch import BatchError, Job, actor_of, register

from .renewal import CHUNK, candidate_ranges, check_renewal, renew_range, summary_of
from .services import EnrollmentError


class RenewalJob(Job):
    """Default renewal of a region (and its counties) into a year, in key ranges of
    the previous year's paid enrollments.  ``today`` is fixed when the run starts,
    so a run resumed days later prices exactly as it began."""

    kind = "renew_enrollments"
    label = "默认续保"
    chunk_size = CHUNK

    def validate(self, params: dict) -> dict:
        region, to_year = str(params.get("region", "")), params.get("to_year")
        if not isinstance(to_year, int):
            raise BatchError("invalid_input", "续保年度须为整数")
        try:
            check_renewal(region, to_year)
        except EnrollmentError as exc:
            raise BatchError(exc.code, exc.message) from None
        today = params.get("today") or clock.today().isoformat()
        return {**params, "region": region, "to_year": to_year, "today": today}

    def scope(self, params: dict) -> str:
        return f"{params['region']}-{params['to_year']}"

    def plan(self, run):
        try:
            check_renewal(run.params["region"], run.params["to_year"])
        except EnrollmentError as exc:
            raise BatchError(exc.code, exc.message) from None
        return candidate_ranges(run.params["region"], run.params["to_year"],
                                int(run.params.get("chunk_size") or self.chunk_size))

    def process(self, run, lo: int, hi: int) -> dict:
        p = run.params
        try:
            return renew_range(region=p["region"], to_year=p["to_year"], lo=lo, hi=hi,
                               today=date.fromisoformat(p["today"]), actor=actor_of(run))
        except EnrollmentError as exc:
            raise BatchError(exc.code, exc.message) from None

    def summarize(self, run, counts: dict) -> dict:
        return summary_of(counts)

    def describe(self, summary: dict) -> list[tuple[str, object]]:
        from .models import ReregisterReason

        out = [("已续保", summary.get("renewed", 0)), ("已登记或已注销（未变动）", summary.get("unchanged", 0))]
        for reason, n in (summary.get("reregister") or {}).items():
            out.append((f"须重新登记：{ReregisterReason(reason).label}", n))
        return out


renewal_job = register(RenewalJob())
