"""The roster import on the batch engine (the admin's background confirmation)."""

from core import batch
from enrollment.import_jobs import ImportJob

from .roster import import_roster

ROSTER_LABELS = {"rows": "名单行数", "new": "新增", "updated": "信息变更", "unchanged": "无变化",
                 "removed": "移出", "pending": "尚未参保登记（待匹配）", "repriced": "重新核定应缴",
                 "refunds_owed": "应退资助部分", "invalid_rows": "有错误的行"}


class RosterImportJob(ImportJob):
    def call_service(self, run, data, **kwargs):
        return import_roster(data, run.params["file"], run=run, **kwargs)


batch.register(RosterImportJob("import_roster", "导入困难人员名单", import_roster, labels=ROSTER_LABELS))
