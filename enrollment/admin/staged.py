"""The upload → preview → confirm pattern of every import page (零报销名单, 困难人员名单,
集中代收缴费, 税务入库记录): the previewed file waits for the confirmation under a random
name (0600) that only this user's session knows — the newest five per page, older ones
deleted — and the confirmation hands it to ``import_submit`` (a 批处理任务 on the engine)
and goes to that run's page.

One place for what the pages share, so a fix (a stale preview, an expired file, a run of
the same kind already going) reaches every page at once.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Callable

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.urls import reverse

from accounts.scoping import region_codes

from ..import_jobs import import_submit, upload_dir

TOKEN = re.compile(r"[0-9a-f]{32}")
KEPT_PER_PAGE = 5


class StagedUploads:
    """The files one import page keeps between preview and confirmation, in the session
    under ``session_key``.  ``what``: the file's name in the messages (名单, 文件)."""

    def __init__(self, session_key: str, what: str = "文件"):
        self.session_key, self.what = session_key, what

    def keep(self, request, content: bytes, **meta) -> str:
        token = uuid.uuid4().hex
        fd = os.open(upload_dir() / token, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(content)
        kept = dict(request.session.get(self.session_key, {}))
        for old in list(kept)[:-(KEPT_PER_PAGE - 1)]:
            (upload_dir() / old).unlink(missing_ok=True)
            kept.pop(old)
        kept[token] = {**meta, "user": request.user.pk}
        request.session[self.session_key] = kept
        return token

    def confirm(self, model_admin, request, *, back: str, submit: Callable[[dict, bytes], object],
                matches: Callable[[dict], bool] = lambda meta: True,
                allowed: Callable[[dict], None] = lambda meta: None):
        """The confirmation of a preview: ``back`` (the page's URL) unless the request is a
        POST of a token this user previewed on this page (``matches``); ``allowed`` may raise
        ``PermissionDenied`` (a region no longer the user's); ``submit(meta, content)``
        returns ``import_submit``'s answer.  The kept file is gone afterwards either way."""
        redirect_back = HttpResponseRedirect(back)
        if request.method != "POST":
            return redirect_back
        token = request.POST.get("token", "")
        kept = dict(request.session.get(self.session_key, {}))
        meta = kept.get(token) if TOKEN.fullmatch(token) else None
        if meta is None or meta.get("user") != request.user.pk or not matches(meta):
            model_admin.message_user(request, f"导入未执行：预览已失效，请重新上传{self.what}", messages.ERROR)
            return redirect_back
        allowed(meta)
        stored = upload_dir() / token
        try:
            content = stored.read_bytes()
        except OSError:
            content = None
        kept.pop(token)
        request.session[self.session_key] = kept
        if content is None:
            model_admin.message_user(request, "导入未执行：预览时上传的文件已过期，请重新上传", messages.ERROR)
            return redirect_back
        started = submit(meta, content)
        stored.unlink(missing_ok=True)
        run = started.run
        if started.joined:
            model_admin.message_user(
                request, f"同类导入正在进行（批处理任务 #{run.pk}），本次未重复提交，请待其完成后再导入",
                messages.WARNING)
        else:
            model_admin.message_user(request, f"已提交后台导入（批处理任务 #{run.pk}），本页显示进度与结果",
                                     messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:core_batchrun_change", args=[run.pk]))

    def confirm_for_region(self, model_admin, request, *, back: str, kind: str):
        """``confirm`` for a page whose file is one region's list for one year (the region and
        year chosen at the preview): the region must still be the user's."""
        def allowed(meta):
            codes = region_codes(request.user)
            if codes is not None and meta["region"] not in codes:
                raise PermissionDenied

        return self.confirm(model_admin, request, back=back, allowed=allowed,
                            submit=lambda meta, content: import_submit(
                                kind=kind, data=content, filename=meta["filename"], actor=request.user,
                                skip_invalid=bool(meta["skip"]),
                                options={"region": meta["region"], "year": int(meta["year"])},
                                regions=[meta["region"]]))
