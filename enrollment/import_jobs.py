"""Imports confirmed in the admin run on the batch engine, in the background.

The confirm page stores the uploaded file under ``MEDIA_ROOT/imports`` (readable by
the server only), starts a run and returns at once; a worker reads the file and runs
the same import service as the command line.  An import is all-or-nothing, so it is
one chunk: a worker killed midway leaves nothing written and the run is taken over.
Its progress (rows checked, rows written, errors) is written on a side connection
while the import's own transaction is still open.  The file, which holds ID numbers,
is deleted when the import ends; ``imports_cleanup`` (scheduled) deletes what an
abandoned preview or a failed run left behind.
"""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

from django.conf import settings
from django.db import transaction

from accounts.scoping import region_codes
from core import batch
from core.audit_actor import acting_user
from core.models import BatchRun
from core.progress import SideProgress

from .imports import import_employee_coverage, import_residents
from .imports.zero_claims import import_zero_claims
from .imports.common import ERRORS_SO_FAR
from .spreadsheet import SpreadsheetError

REPORT_LINES = 2000


def upload_dir() -> Path:
    path = Path(settings.MEDIA_ROOT) / "imports"
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def import_submit(*, kind: str, data: bytes, filename: str, actor, skip_invalid: bool = False,
                  options: dict | None = None, regions: list[str] | None = None) -> batch.Started:
    """Keep the file and start its import in the background (a BatchRun)."""
    filename = clean_filename(filename)
    suffix = Path(filename).suffix.lower()
    stored = f"{uuid.uuid4().hex}{suffix if suffix in ('.csv', '.xlsx') else ''}"
    path = upload_dir() / stored
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    try:
        params = {"file": filename, "stored": stored, "skip_invalid": skip_invalid, "via": "admin"}
        if options:
            params["options"] = options  # the service's own arguments (a roster's region and year)
        codes = region_codes(actor) if acting_user(actor) is not None else None
        if regions is not None:
            params["regions"] = sorted(regions)  # the run is about these regions only
        elif codes is not None:
            params["regions"] = sorted(codes)  # who else may follow the run: the same regions
        started = batch.start(kind, params, actor=actor)
    except Exception:
        path.unlink(missing_ok=True)
        raise
    if started.joined:  # a run of the same kind was going: it reads its own file, not this one
        path.unlink(missing_ok=True)
    return started


def clean_filename(name: str) -> str:
    """The name a person gave the file, as shown: no folders, no control characters."""
    name = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip()
    return name[:200] or "upload"


def report_lines(errors) -> str:
    lines = [str(e) for e in errors]
    if len(lines) > REPORT_LINES:
        lines = lines[:REPORT_LINES] + [f"… 另有 {len(lines) - REPORT_LINES} 条错误未列出"]
    return "\n".join(lines)


def _one_bar(label: str, done: int, total: int) -> tuple[int, int]:
    """Checking and writing on one bar that only moves forward: each is half of it."""
    half = done // 2
    return (total - total // 2 + half if label == "写入" else half), total


def _live(side: SideProgress, label: str, done: int, total: int) -> None:
    """Rows done on one bar, and the faulty rows found so far, while the import goes on."""
    if label == ERRORS_SO_FAR:
        side.update(side.last_done, total, failed=done, force=True)
    else:
        side.update(*_one_bar(label, done, total))


class ImportJob(batch.Job):
    """An admin import on the engine.  ``labels``: the summary's keys (in order) and their
    Chinese names; the service's result has ``as_dict()`` with those keys, ``errors`` and,
    optionally, ``warnings`` (lines added to the report)."""

    LABELS = {"rows": "行数", "created": "新增", "updated": "更新", "unchanged": "无变化",
              "registered": "登记参保", "already_registered": "此前已登记", "invalid_rows": "有错误的行"}

    def __init__(self, kind: str, label: str, service, labels: dict | None = None):
        self.kind, self.label, self.service = kind, label, service
        if labels is not None:
            self.LABELS = labels

    def plan(self, run):
        return [(0, 1)], 0  # all-or-nothing: one chunk

    def process(self, run, lo: int, hi: int) -> dict:
        path = upload_dir() / Path(run.params["stored"]).name
        if not path.exists():
            raise batch.BatchError("file_missing", "上传的文件已不存在（可能已被清理），请重新导入")
        data = path.read_bytes()
        side = SideProgress(run.pk)
        try:
            result = self.call_service(
                run, data, skip_invalid=bool(run.params.get("skip_invalid")),
                **run.params.get("options", {}),
                actor=batch.actor_of(run), user=run.created_by,
                progress=lambda label, done, total: _live(side, label, done, total))
        except SpreadsheetError as exc:
            raise batch.BatchError("invalid_file", f"文件无法读取：{exc}") from None
        finally:
            side.close()
        report = report_lines(result.errors)
        warnings = list(getattr(result, "warnings", ()))
        if warnings:
            report = "\n".join([report, *warnings[:REPORT_LINES]]).strip("\n")
        BatchRun.objects.filter(pk=run.pk).update(report=report)
        transaction.on_commit(lambda: path.unlink(missing_ok=True))
        summary = result.as_dict()
        counts = {k: int(summary[k]) for k in self.LABELS}
        counts.update(rejected=int(bool(summary["rejected"])), processed=summary["rows"],
                      succeeded=0 if summary["rejected"] else summary["rows"] - summary["invalid_rows"],
                      failed=summary["invalid_rows"])
        return counts

    def call_service(self, run, data: bytes, **kwargs):
        return self.service(data, run.params["file"], **kwargs)

    def summarize(self, run, counts: dict) -> dict:
        return {**{k: counts.get(k, 0) for k in self.LABELS}, "rejected": bool(counts.get("rejected"))}

    def refused(self, run, counts: dict) -> bool:
        return bool(counts.get("rejected"))

    def describe(self, summary: dict) -> list[tuple[str, object]]:
        out = [(label, summary.get(key, 0)) for key, label in self.LABELS.items()]
        out.append(("结果", "整份文件未导入（有错误的行，且未选择跳过）" if summary.get("rejected") else "已导入"))
        return out


batch.register(ImportJob("import_residents", "导入参保人", import_residents))
batch.register(ImportJob("import_employee_coverage", "导入职工医保参保记录", import_employee_coverage))
ZERO_CLAIM_LABELS = {"rows": "行数", "created": "新登记零报销年度", "unchanged": "此前已登记（无变化）",
                     "repriced": "重新核定应缴的未缴费登记", "invalid_rows": "有错误的行"}
batch.register(ImportJob("import_zero_claims", "导入零报销名单", import_zero_claims, labels=ZERO_CLAIM_LABELS))


def imports_cleanup(*, older_than: float = 3600) -> int:
    """Delete stored uploads no active run needs (ended, or abandoned previews of the
    admin's import, which django-import-export keeps under MEDIA_ROOT too)."""
    active = set()
    for params in BatchRun.objects.filter(status__in=BatchRun.ACTIVE, kind__startswith="import_").values_list(
            "params", flat=True):
        active.add(params.get("stored"))
    cutoff = time.time() - older_than
    removed = 0
    folders = [upload_dir(), Path(settings.MEDIA_ROOT) / "django-import-export"]
    for folder in folders:
        if not folder.is_dir():
            continue
        for path in folder.iterdir():
            if path.is_file() and path.name not in active and path.stat().st_mtime < cutoff:
                path.unlink(missing_ok=True)
                removed += 1
    return removed
