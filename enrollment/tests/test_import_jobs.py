"""Background imports on the batch engine: the stored file, its deletion, a vanished file."""

import os
import time
from pathlib import Path

import pytest

from core import batch
from core.models import BatchRun
from enrollment.import_jobs import import_submit, imports_cleanup, upload_dir
from enrollment.models import Resident
from enrollment.tests.support import number

pytestmark = pytest.mark.usefixtures("policies")

HEADER = "姓名,身份证号码,户籍,居住证,学生类别,参保地\n"


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


def csv(*rows) -> bytes:
    return (HEADER + "".join(",".join(r) + "\n" for r in rows)).encode()


def work(run):
    return batch.run_inline(run)


def test_a_submitted_import_keeps_its_file_privately_until_it_has_run(django_capture_on_commit_callbacks):
    man = number("330203", "19800101", "011")
    with django_capture_on_commit_callbacks(execute=False) as sent:
        run = import_submit(kind="import_residents", data=csv(["张三", man, "本地", "无", "", "330200"]),
                            filename="../../etc/名单.csv", actor="test").run
    assert len(sent) == 1 and run.status == "queued"
    stored = upload_dir() / run.params["stored"]
    assert stored.parent == upload_dir() and stored.suffix == ".csv"  # never the given path
    assert oct(stored.stat().st_mode & 0o777) == "0o600"
    with django_capture_on_commit_callbacks(execute=True):
        run = work(run)
    assert (run.status, run.summary["created"], run.processed) == ("done", 1, 1)
    assert Resident.objects.filter(id_number=man).exists()
    assert not stored.exists()  # deleted once the import committed


@pytest.mark.parametrize("given, shown, suffix", [
    ("../../etc/名单.csv", "名单.csv", ".csv"),
    ("C:\\Users\\x\\花名册.XLSX", "花名册.XLSX", ".xlsx"),
    ("<img src=x onerror=alert(1)>.csv\n=HYPERLINK(1)", "<img src=x onerror=alert(1)>.csv=HYPERLINK(1)", ""),
    ("", "upload", ""),
])
def test_the_given_file_name_is_shown_cleaned_and_never_names_the_stored_file(given, shown, suffix):
    run = import_submit(kind="import_residents", data=csv(), filename=given, actor="test").run
    stored = run.params["stored"]
    assert run.params["file"] == shown
    assert len(stored) == 32 + len(suffix) and stored.endswith(suffix) and stored[:32].isalnum()


def test_a_rejected_file_closes_the_run_as_failed_with_its_report():
    bad = number("330203", "19800101", "011")[:-1] + "0"
    run = work(import_submit(kind="import_residents", data=csv(["张三", bad, "本地", "无", "", "330200"]),
                             filename="bad.csv", actor="test").run)
    assert run.status == "failed" and run.summary["rejected"] is True
    assert run.report.startswith("row 2: 身份证号码:")
    assert not Resident.objects.exists()


def test_a_vanished_file_fails_the_run_with_a_plain_reason():
    run = import_submit(kind="import_residents", data=csv(), filename="x.csv", actor="test").run
    (upload_dir() / run.params["stored"]).unlink()
    run = work(run)
    assert run.status == "failed" and "上传的文件已不存在" in run.report


def test_cleanup_deletes_what_no_active_import_needs(settings):
    keep = import_submit(kind="import_residents", data=csv(), filename="k.csv", actor="test").run
    old = time.time() - 7200
    abandoned = Path(settings.MEDIA_ROOT) / "django-import-export" / "preview.csv"
    abandoned.parent.mkdir(parents=True)
    abandoned.write_bytes(b"x")
    finished = upload_dir() / "finished.csv"
    finished.write_bytes(b"x")
    fresh = upload_dir() / "fresh.csv"
    fresh.write_bytes(b"x")
    for p in (abandoned, finished, upload_dir() / keep.params["stored"]):
        os.utime(p, (old, old))
    assert imports_cleanup() == 2
    assert sorted(p.name for p in upload_dir().iterdir()) == sorted(["fresh.csv", keep.params["stored"]])
    assert not abandoned.exists()
    BatchRun.objects.filter(pk=keep.pk).update(status="failed")
    assert imports_cleanup() == 1 and [p.name for p in upload_dir().iterdir()] == ["fresh.csv"]


def test_checking_and_writing_share_one_bar_that_only_moves_forward():
    from enrollment.import_jobs import _one_bar

    seen = [_one_bar("检查参保登记", d, 100)[0] for d in (0, 50, 100)] + [
        _one_bar("写入", d, 100)[0] for d in (0, 50, 100)]
    assert seen == [0, 25, 50, 50, 75, 100] and seen == sorted(seen)


def test_an_unreadable_file_fails_once_with_a_plain_reason():
    data = ("姓名,身份证号码\n" + "x" * 200_000 + ",1\n").encode()
    run = work(import_submit(kind="import_residents", data=data, filename="big.csv", actor="test").run)
    assert run.status == "failed" and run.report.startswith("文件无法读取：CSV 文件第 2 行无法读取")
    assert list(run.chunks.values_list("attempts", flat=True)) == [1]  # not retried


def test_the_faulty_rows_are_reported_while_the_import_goes_on():
    from enrollment.import_jobs import _live
    from enrollment.imports import import_residents

    seen = []
    good = number("330203", "19800101", "011")
    bad = good[:-1] + ("0" if good[-1] != "0" else "1")
    import_residents(csv(["张三", good, "本地", "无", "", "330200"], ["李四", bad, "本地", "无", "", "330200"]),
                     "x.csv", actor="test", progress=lambda label, done, total: seen.append((label, done, total)))
    assert ("错误行", 1, 2) in seen

    class Side:
        last_done = 0

        def __init__(self):
            self.calls = []

        def update(self, done, total, *, failed=None, force=False):
            self.last_done = done
            self.calls.append((done, total, failed))

    side = Side()
    _live(side, "检查参保登记", 2, 2)
    _live(side, "错误行", 1, 2)
    assert side.calls == [(1, 2, None), (1, 2, 1)]  # half of the bar; then one faulty row, bar kept
