"""Admin: 对账批次 (the tax bureau's files matched against the ledger, with their
differences) and the two import pages — 导入税务入库记录 and 导入集中代收缴费 — each
upload → preview (the whole check as a dry run) → confirm in the background (a
批处理任务 on the engine, ``enrollment.import_jobs.import_submit``).

Runs and their differences are scoped to the user's regions: a run is listed when one
of its differences (or matched payments) is in a region of the user's, and only those
differences are shown.  Nothing is added, changed or deleted here by hand.
"""

from __future__ import annotations

from functools import reduce
from operator import or_

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from accounts.scoping import region_codes
from enrollment import idnumbers
from enrollment.admin.common import can_view_full_id
from enrollment.admin.staged import StagedUploads
from enrollment.import_jobs import clean_filename, import_submit
from enrollment.spreadsheet import SpreadsheetError, read_table

from .imports import PAYMENT_OPTIONAL, PAYMENT_REQUIRED, import_payments_table, scheme_column_help
from .jobs import DEPOSIT_LABELS, PAYMENT_LABELS
from .models import ReconciliationItem, ReconciliationRun
from .reconcile import DEPOSIT_REQUIRED, import_tax_deposits_table

UPLOADS = StagedUploads("payment_uploads", "文件")
SHOWN = 200
MAX_UPLOAD_BYTES = 50 * 1024 * 1024

KINDS = {
    "import_payments": {"title": "导入集中代收缴费", "labels": PAYMENT_LABELS, "perm": "payments.add_payment",
                        "help": "学校、村委会等集中代收的缴费明细，或原系统结转的以往年度缴费（渠道填“原系统结转”）。"
                                "列：渠道、交易流水号、身份证号码、姓名、待遇年度、金额、缴费时间（可选：缴费单位、缴费单位代码、险种）。"
                                "每行按渠道缴费同样核对：金额须等于缴费时应缴金额；同一渠道和交易流水号再次导入不重复入账。",
                        "column_help": scheme_column_help},
    "import_tax_deposits": {"title": "导入税务入库记录（对账）", "labels": DEPOSIT_LABELS,
                            "perm": "payments.add_reconciliationrun",
                            "help": "税务部门提供的入库明细。列：入库日期、交易流水号、渠道、身份证号码、待遇年度、金额。"
                                    "与本系统缴费流水逐笔核对：一致、我方无缴费记录、税务无入库记录（同渠道、文件所含入库日期"
                                    "范围内我方已收而文件中没有的缴费）、金额不符。同一文件再次导入不产生变化。"},
}


class UploadForm(forms.Form):
    import_file = forms.FileField(label="文件", help_text="xlsx 或 csv（UTF-8 或 GBK）")
    skip_invalid = forms.BooleanField(label="跳过错误行", required=False,
                                      help_text="勾选：导入正确的行，错误行列出不导入；不勾选：有错误行时整份文件不导入")

    def clean_import_file(self):
        f = self.cleaned_data["import_file"]
        if f.size > MAX_UPLOAD_BYTES:
            raise forms.ValidationError("文件超过 50 MB")
        return f


def _regions_q(codes) -> Q:
    return reduce(or_, (Q(regions__contains=[c]) for c in sorted(codes)), Q(pk__in=[]))


@admin.register(ReconciliationRun)
class ReconciliationRunAdmin(admin.ModelAdmin):
    list_display = ["imported_at", "file_name", "day_from", "day_to", "channels_display", "rows", "matched",
                    "missing_here", "missing_there", "amount_differs", "who"]
    list_filter = ["day_from"]
    fields = ["file_name", "imported_at", "checked_at", "who", "day_from", "day_to", "channels_display", "rows",
              "matched", "missing_here", "missing_there", "amount_differs", "differences"]
    readonly_fields = fields
    change_list_template = "admin/payments/reconciliationrun/change_list.html"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        qs = super().get_queryset(request).select_related("imported_by")
        codes = region_codes(request.user)
        return qs if codes is None else qs.filter(_regions_q(codes))

    def get_object(self, request, object_id, from_field=None):
        obj = super().get_object(request, object_id, from_field)
        if obj is not None:  # per request: ModelAdmin instances are shared between threads
            obj.full_id_shown = can_view_full_id(request)
            obj.codes = region_codes(request.user)
        return obj

    @admin.display(description="渠道")
    def channels_display(self, obj):
        from .models import Channel

        names = dict(Channel.choices)
        return "、".join(names.get(c, c) for c in obj.channels)

    @admin.display(description="导入人")
    def who(self, obj):
        return obj.imported_by.get_username() if obj.imported_by_id else (obj.actor or "—")

    @admin.display(description="差异明细")
    def differences(self, obj):
        items = ReconciliationItem.objects.filter(run=obj)
        codes = getattr(obj, "codes", None)
        if codes is not None:
            items = items.filter(region_id__in=codes)
        items = list(items.select_related("region").order_by("kind", "channel", "txn_id")[:SHOWN * 5 + 1])
        if not items:
            return "无差异：文件中的入库记录与本系统缴费流水逐笔一致"
        full = getattr(obj, "full_id_shown", False)

        def money(v):
            return "—" if v is None else f"{v:.2f} 元"

        rows = ((i.get_kind_display(), i.get_channel_display(), i.txn_id,
                 (i.id_number if full else idnumbers.mask(i.id_number)) if i.id_number else "—", i.year or "—",
                 i.region.name if i.region_id else "—", money(i.our_amount), money(i.their_amount),
                 i.paid_on or "—", i.deposited_on or "—") for i in items[:SHOWN * 5])
        more = format_html("<p>只列出前 {} 条</p>", SHOWN * 5) if len(items) > SHOWN * 5 else ""
        return format_html(
            '<table class="recon-items"><thead><tr><th>差异类型</th><th>渠道</th><th>交易流水号</th><th>身份证号码</th>'
            "<th>待遇年度</th><th>参保地</th><th>我方金额</th><th>税务金额</th><th>缴费日期</th><th>入库日期</th>"
            "</tr></thead><tbody>{}</tbody></table>{}",
            format_html_join("", "<tr>" + "<td>{}</td>" * 10 + "</tr>", rows), more)

    def changelist_view(self, request, extra_context=None):
        links = [(KINDS[k]["title"], reverse(f"admin:payments_{k}")) for k in KINDS
                 if request.user.has_perm(KINDS[k]["perm"])]
        return super().changelist_view(request, {**(extra_context or {}), "import_links": links})

    def get_urls(self):
        view = self.admin_site.admin_view
        urls = []
        for kind in KINDS:
            urls.append(path(f"{kind.replace('_', '-')}/", view(self._import_view(kind)), name=f"payments_{kind}"))
            urls.append(path(f"{kind.replace('_', '-')}/confirm/", view(self._confirm_view(kind)),
                             name=f"payments_{kind}_confirm"))
        return urls + super().get_urls()

    # --- upload → preview → confirm --------------------------------------------------------

    def _import_view(self, kind):
        def import_view(request):
            if not request.user.has_perm(KINDS[kind]["perm"]):
                raise PermissionDenied
            preview = None
            if request.method == "POST":
                form = UploadForm(request.POST, request.FILES)
                if form.is_valid():
                    preview = self._preview(request, kind, form)
            else:
                form = UploadForm()
            context = {**self.admin_site.each_context(request), "opts": self.opts, "form": form,
                       "preview": preview, "title": KINDS[kind]["title"], "help": KINDS[kind]["help"],
                       # the schemes registered at the time of asking (flexible registers in its ready())
                       "column_help": KINDS[kind]["column_help"]() if "column_help" in KINDS[kind] else "",
                       "confirm_url": reverse(f"admin:payments_{kind}_confirm"),
                       "again_url": reverse(f"admin:payments_{kind}")}
            return TemplateResponse(request, "admin/payments/import.html", context)
        return import_view

    def _preview(self, request, kind, form) -> dict | None:
        upload = form.cleaned_data["import_file"]
        skip = form.cleaned_data["skip_invalid"]
        filename = clean_filename(upload.name)
        content = upload.read()
        try:
            if kind == "import_payments":
                table = read_table(content, filename, required=PAYMENT_REQUIRED, optional=PAYMENT_OPTIONAL)
                result = import_payments_table(table, skip_invalid=skip, dry_run=True, actor=request.user,
                                               user=request.user)
                summary = result.as_dict()
            else:
                table = read_table(content, filename, required=DEPOSIT_REQUIRED)
                result = import_tax_deposits_table(table, skip_invalid=skip, dry_run=True, actor=request.user,
                                                   user=request.user, filename=filename)
                summary = result.as_job_dict()
        except SpreadsheetError as exc:
            form.add_error("import_file", f"文件无法导入：{exc}")
            return None
        token = None if result.rejected else UPLOADS.keep(request, content, kind=kind, filename=filename, skip=skip)
        errors = [f"第 {e.row} 行 {e.column}：{e.reason}" for e in result.errors]
        counts = [(label, summary.get(key, 0)) for key, label in KINDS[kind]["labels"].items()]
        return {"filename": filename, "counts": counts, "rejected": result.rejected, "token": token,
                "error_lines": errors[:SHOWN * 5], "error_more": max(len(errors) - SHOWN * 5, 0),
                "skip": skip, "differences": self._differences(request, kind, result)}

    def _differences(self, request, kind, result) -> list:
        if kind != "import_tax_deposits":
            return []
        codes = region_codes(request.user)
        full = can_view_full_id(request)
        names = dict(ReconciliationItem.Kind.choices)
        out = []
        for ln in result.items:
            if codes is not None and ln.get("region_id") not in codes:
                continue
            number = ln.get("id_number") or ""
            out.append((names[ln["kind"]], ln["channel"], ln["txn_id"],
                        number if full else idnumbers.mask(number) if number else "—",
                        ln.get("our_amount") or "—", ln.get("their_amount") or "—"))
            if len(out) >= SHOWN:
                break
        return out

    def _confirm_view(self, kind):
        def confirm_view(request):
            if not request.user.has_perm(KINDS[kind]["perm"]):
                raise PermissionDenied
            return UPLOADS.confirm(
                self, request, back=reverse(f"admin:payments_{kind}"), matches=lambda meta: meta.get("kind") == kind,
                submit=lambda meta, content: import_submit(kind=kind, data=content, filename=meta["filename"],
                                                           actor=request.user, skip_invalid=bool(meta["skip"])))
        return confirm_view
